import type { Kysely } from 'kysely';
import { breachScopeOf } from '../audit/breach-scope.js';
import { allAccessLog, type AccessLogFilter } from '../db/queries/access-log.js';
import {
  findIncident,
  incidentNotifications,
  insertIncident,
  insertIncidentPeople,
  insertRevocation,
  markPeopleNotified,
  type IncidentRow,
  type NotificationRow,
  type RevocationRow,
} from '../db/queries/incidents.js';
import type { Database } from '../db/tables.js';
import { BadUserInputError, NotFoundError } from '../errors.js';
import type { Requester } from './data-subject-service.js';

/** JanusIPM §12: affected users are notified within 72 hours of becoming aware of the breach. */
export const NOTIFY_WITHIN_MS = 72 * 60 * 60 * 1000;

const TEXT_LIMIT = 4000;
const ID_LIMIT = 200;
export const MARK_LIMIT = 10_000;

export interface IncidentInput {
  jti: string | null;
  actor: string | null;
  tenant: string | null;
  from: Date;
  to: Date;
  /** What JanusIPM §12 promises each affected person is told. */
  nature: string;
  consequences: string;
  measures: string;
  contact: string;
  revoke: boolean;
}

function text(name: string, value: string): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > TEXT_LIMIT) throw new BadUserInputError(`"${name}" must be 1 to ${TEXT_LIMIT} characters.`);
  return trimmed;
}

function identifier(name: string, value: string | null): string | null {
  if (value === null) return null;
  if (value.length === 0 || value.length > ID_LIMIT || value.includes('\u0000')) throw new BadUserInputError(`"${name}" is not a value a token can carry.`);
  return value;
}

/**
 * Opens an incident for a token (jti), an actor (sub) or a tenant over a window: the people and
 * categories it exposed, from the access log exactly as `breachScope` computes them, are frozen
 * into it; notifyBy is 72 hours from now. With `revoke`, the token or actor is revoked in the
 * same transaction (containment first).
 */
export async function openIncident(db: Kysely<Database>, requester: Requester, input: IncidentInput): Promise<IncidentRow> {
  const jti = identifier('jti', input.jti);
  const actor = identifier('actor', input.actor);
  const tenant = identifier('tenant', input.tenant);
  if (jti === null && actor === null && tenant === null) throw new BadUserInputError('Name a jti, an actor or a tenant.');
  if (input.from.getTime() >= input.to.getTime()) throw new BadUserInputError('"from" must be before "to".');
  if (input.revoke && jti === null && actor === null) throw new BadUserInputError('"revoke" needs a jti or an actor to revoke.');
  const texts = {
    nature: text('nature', input.nature),
    consequences: text('consequences', input.consequences),
    measures: text('measures', input.measures),
    contact: text('contact', input.contact),
  };
  const filter: AccessLogFilter = { tokenId: jti ?? undefined, actor: actor ?? undefined, tenantId: tenant ?? undefined, from: input.from, to: input.to };
  const scope = breachScopeOf(await allAccessLog(db, filter));
  const openedAt = new Date();
  const id = await insertIncident(db, {
    openedBy: requester.subject,
    openedAt,
    notifyBy: new Date(openedAt.getTime() + NOTIFY_WITHIN_MS),
    tokenId: jti,
    actor,
    tenantId: tenant,
    from: input.from,
    to: input.to,
    ...texts,
    entries: scope.entries,
  });
  await insertIncidentPeople(db, id, scope.people);
  if (input.revoke) {
    await insertRevocation(db, { tokenId: jti, actor, reason: `incident ${id}: ${texts.nature}`.slice(0, TEXT_LIMIT), revokedBy: requester.subject, incidentId: id });
  }
  return (await findIncident(db, id))!;
}

/** Revokes a token (jti) or every token of an actor (sub), from the next request. */
export async function revokeAccess(
  db: Kysely<Database>,
  requester: Requester,
  input: { jti: string | null; actor: string | null; reason: string },
): Promise<RevocationRow> {
  const jti = identifier('jti', input.jti);
  const actor = identifier('actor', input.actor);
  if (jti === null && actor === null) throw new BadUserInputError('Name a jti or an actor to revoke.');
  return insertRevocation(db, { tokenId: jti, actor, reason: text('reason', input.reason), revokedBy: requester.subject, incidentId: null });
}

export async function incidentOrRefuse(db: Kysely<Database>, id: string): Promise<IncidentRow> {
  const incident = UUID.test(id) ? await findIncident(db, id) : undefined;
  if (incident === undefined) throw new NotFoundError('Incident');
  return incident;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Marks affected people notified; ids not affected by the incident refuse the whole call. */
export async function markNotified(db: Kysely<Database>, requester: Requester, incidentId: string, personIds: readonly string[]): Promise<IncidentRow> {
  await incidentOrRefuse(db, incidentId);
  const ids = [...new Set(personIds)];
  if (ids.length === 0 || ids.length > MARK_LIMIT) throw new BadUserInputError(`"personIds" must hold 1 to ${MARK_LIMIT} ids.`);
  const unknown = await markPeopleNotified(db, incidentId, ids, requester.subject);
  if (unknown.length > 0) throw new BadUserInputError(`${unknown.length} of the ids are not people affected by this incident; nobody was marked.`);
  return (await findIncident(db, incidentId))!;
}

/** What the notice promises each affected person (JanusIPM §12), one per person. */
export interface BreachNotice extends NotificationRow {
  nature: string;
  consequences: string;
  measures: string;
  contact: string;
}

export async function notificationsOf(db: Kysely<Database>, incident: IncidentRow): Promise<BreachNotice[]> {
  const rows = await incidentNotifications(db, incident.id);
  return rows.map((row) => ({ ...row, nature: incident.nature, consequences: incident.consequences, measures: incident.measures, contact: incident.contact }));
}

export const CSV_COLUMNS = ['personId', 'email', 'residency', 'categories', 'nature', 'consequences', 'measures', 'contact', 'notifiedAt'] as const;

/**
 * RFC 4180 CSV for a mailer, one line per affected person. A cell that a spreadsheet would take
 * for a formula (=, +, -, @, tab, CR) is prefixed with an apostrophe (OWASP CSV injection).
 */
export function notificationsCsv(notices: readonly BreachNotice[]): string {
  const cell = (value: string | null): string => {
    let text = value ?? '';
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  const lines = notices.map((n) =>
    [n.personId, n.email, n.residency, n.categories.join(';'), n.nature, n.consequences, n.measures, n.contact, n.notifiedAt?.toISOString() ?? null]
      .map(cell)
      .join(','),
  );
  return `${[CSV_COLUMNS.join(','), ...lines].join('\r\n')}\r\n`;
}
