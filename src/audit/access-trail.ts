import type { AccessDecision } from '../policy/access-decision.js';
import type { AccessLogContent, Outcome } from './entry-hash.js';

/** What a resolved object may carry to say whose data it is. */
interface PersonalSource {
  personId?: string | null;
  of?: { personId?: string | null };
  node?: { personId?: string | null };
  subjects?: readonly string[];
  consentMasks?: Readonly<Record<string, string>>;
}

const isEmpty = (value: unknown) => value === null || value === undefined || (Array.isArray(value) && value.length === 0);

/** The people a resolved object is about. */
function peopleOf(source: unknown): string[] {
  const personal = (source ?? {}) as PersonalSource;
  if (personal.subjects !== undefined) return [...personal.subjects];
  const person = personal.personId ?? personal.of?.personId ?? personal.node?.personId;
  return typeof person === 'string' ? [person] : [];
}

/** The people a resolved value is: a person row, a list of them, or a connection page of them. */
function peopleReturned(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(peopleReturned);
  if (value === null || typeof value !== 'object') return [];
  const edges = (value as { edges?: unknown }).edges;
  if (Array.isArray(edges)) return edges.flatMap((edge) => peopleReturned((edge as { node?: unknown }).node));
  const person = (value as { personId?: unknown }).personId;
  return typeof person === 'string' ? [person] : [];
}

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(value);
}

const record = (map: Map<string, Set<string>>) => Object.fromEntries([...map].map(([key, values]) => [key, [...values]]));

/**
 * What one request read of personal data: which people, which `Type.field`s, what was masked and
 * why (for the request and per person), which categories each person had exposed, and which
 * aggregates were counted. Filled as fields resolve (a set insertion per field per row), written
 * as one access-log entry per request.
 *
 * Exposure follows POLICY.md: a value read in full, partially or as a hash exposes the person's
 * category; an identifier (an attendee id or a cursor that encodes one) exposes who was read.
 */
export class AccessTrail {
  readonly subjects = new Set<string>();
  readonly fields = new Set<string>();
  readonly masked = new Set<string>();
  readonly maskedBySubject = new Map<string, Set<string>>();
  readonly exposure = new Map<string, Set<string>>();
  readonly aggregates = new Set<string>();
  /** Fields that returned people whatever was selected of them (`__typename`, `pageInfo` alone). */
  private readonly structural = new Set<string>();

  constructor(private readonly decision: AccessDecision) {}

  get empty(): boolean {
    return this.fields.size === 0 && this.subjects.size === 0;
  }

  /**
   * A field that returned people (a person, a list or a page of them): they were read, even when
   * the operation selects nothing of them but `__typename` or `pageInfo` (membership is personal).
   */
  returned(type: string, field: string, value: unknown): void {
    const people = peopleReturned(value);
    if (people.length === 0) return;
    this.structural.add(`${type}.${field}`);
    for (const person of people) this.subjects.add(person);
  }

  /** One personal field resolved on one object. */
  read(type: string, field: string, source: unknown, value: unknown): void {
    const key = `${type}.${field}`;
    this.fields.add(key);
    const people = peopleOf(source);
    for (const person of people) this.subjects.add(person);
    const reason = isEmpty(value) ? (source as PersonalSource | null)?.consentMasks?.[field] : undefined;
    if (reason !== undefined) {
      this.mask(`${key}:${reason}`, people);
      return;
    }
    if (isEmpty(value)) return;
    const level = this.decision.masks.get(key)?.level;
    if (level !== undefined) this.mask(`${key}:${level === 'hash' ? 'HASH' : 'PARTIAL'}`, people);
    this.expose(people, this.decision.categoryOf(type, field));
  }

  /**
   * An identifier that names people without being a personal field of its own (a cursor encoding
   * an attendee id): recorded only when it does name someone.
   */
  identified(type: string, field: string, source: unknown, value: unknown, category: string): void {
    const people = peopleOf(source);
    if (people.length === 0 || isEmpty(value)) return;
    this.fields.add(`${type}.${field}`);
    for (const person of people) this.subjects.add(person);
    this.expose(people, category);
  }

  /** An aggregate counted people by a dimension: recorded with its category, and no people. */
  aggregate(field: string, dimension: string, category: string): void {
    this.fields.add(field);
    this.aggregates.add(`${dimension}:${category}`);
  }

  /** Fields refused before anything was read (a DENIED entry). */
  refused(fields: readonly string[]): void {
    for (const field of fields) this.fields.add(field);
  }

  private mask(entry: string, people: readonly string[]): void {
    this.masked.add(entry);
    for (const person of people) addTo(this.maskedBySubject, person, entry);
  }

  private expose(people: readonly string[], category: string | undefined): void {
    if (category === undefined) return;
    for (const person of people) addTo(this.exposure, person, category);
  }

  content(
    request: Omit<AccessLogContent, 'subjects' | 'fields' | 'masked' | 'exposure' | 'maskedBySubject' | 'aggregates' | 'outcome' | 'errorCode'>,
    outcome: Outcome,
    errorCode: string | null,
  ): AccessLogContent {
    return {
      ...request,
      subjects: [...this.subjects],
      // A read that selected no personal field still names the fields that returned the people.
      fields: this.fields.size > 0 ? [...this.fields] : [...this.structural],
      masked: [...this.masked],
      exposure: record(this.exposure),
      maskedBySubject: record(this.maskedBySubject),
      aggregates: [...this.aggregates],
      outcome,
      errorCode,
    };
  }
}
