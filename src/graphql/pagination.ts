import { isAttendeeId } from '../db/queries/attendees.js';
import { BadUserInputError } from '../errors.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface Connection<T> {
  edges: { cursor: string; node: T }[];
  /** `subjects`: the person the end cursor points at, when the nodes are people (for the access log). */
  pageInfo: { hasNextPage: boolean; endCursor: string | null; subjects?: string[] };
}

/** CONTRACT.md: `first` defaults to 50 and is capped at 500. */
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (first < 0) throw new BadUserInputError('"first" must not be negative.');
  return Math.min(first, MAX_PAGE_SIZE);
}

/** Cursors are opaque to clients: base64url of the keyset position. */
export function encodeCursor(position: readonly string[]): string {
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

/**
 * Cursors are opaque but come back from clients, so each part is checked before it reaches SQL:
 * `isValid` rejects values of the wrong type (a non-UUID id, a non-instant time).
 */
export function decodeCursor(
  cursor: string | null | undefined,
  length: number,
  isValid: (position: readonly string[]) => boolean,
): string[] | undefined {
  if (cursor === null || cursor === undefined) return undefined;
  let position: unknown;
  try {
    position = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new BadUserInputError('"after" is not a cursor this API issued.');
  }
  if (
    !Array.isArray(position) ||
    position.length !== length ||
    !position.every((part) => typeof part === 'string' && part.length <= 200 && !part.includes('\u0000')) ||
    !isValid(position as string[])
  ) {
    throw new BadUserInputError('"after" is not a cursor this API issued.');
  }
  return position as string[];
}

/** Builds a page from `limit + 1` rows: the extra row only says whether there is a next page. */
export function toConnection<T>(rows: readonly T[], limit: number, positionOf: (row: T) => readonly string[]): Connection<T> {
  const page = rows.slice(0, limit);
  const edges = page.map((node) => ({ cursor: encodeCursor(positionOf(node)), node }));
  const last = page.at(-1) as { personId?: unknown } | undefined;
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      endCursor: edges.at(-1)?.cursor ?? null,
      subjects: typeof last?.personId === 'string' ? [last.personId] : [],
    },
  };
}

/**
 * Ids that cannot exist in the database (NUL bytes, absurd lengths) are answered as unknown ids
 * without a statement, so they can never surface as SQL errors.
 */
export function isLookupableId(id: string): boolean {
  return id.length > 0 && id.length <= 200 && !id.includes('\u0000');
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The form cursors carry times in (`Date.toISOString()`), and a real instant. */
export const isIssuedInstant = (value: string): boolean => ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value));

/** A cursor over attendees: (tenant, attendee id). */
export const isAttendeeIdCursor = ([, id]: readonly string[]): boolean => id !== undefined && isAttendeeId(id);
