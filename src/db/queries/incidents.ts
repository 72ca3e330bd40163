import { sql, type Kysely } from 'kysely';
import type { Database } from '../tables.js';

/** An incident as opened: scope, window, what people are told, and how many entries it covered. */
export interface IncidentRow extends NewIncident {
  id: string;
  affectedPeople: number;
  unnotified: number;
}

const INCIDENT = sql`select i.id, i.opened_at as "openedAt", i.opened_by as "openedBy", i.notify_by as "notifyBy",
  i.token_id as "tokenId", i.actor, i.tenant_id as "tenantId", i.window_from as "from", i.window_to as "to",
  i.nature, i.consequences, i.measures, i.contact, i.entries,
  (select count(*) from incident_people p where p.incident_id = i.id)::int as "affectedPeople",
  (select count(*) from incident_people p where p.incident_id = i.id and p.notified_at is null)::int as "unnotified"
  from incidents i`;

export interface NewIncident {
  openedBy: string;
  notifyBy: Date;
  openedAt: Date;
  tokenId: string | null;
  actor: string | null;
  tenantId: string | null;
  from: Date;
  to: Date;
  nature: string;
  consequences: string;
  measures: string;
  contact: string;
  entries: number;
}

export async function insertIncident(db: Kysely<Database>, incident: NewIncident): Promise<string> {
  const result = await sql<{ id: string }>`insert into incidents (opened_at, opened_by, notify_by, token_id, actor, tenant_id,
      window_from, window_to, nature, consequences, measures, contact, entries)
    values (${incident.openedAt}, ${incident.openedBy}, ${incident.notifyBy}, ${incident.tokenId}, ${incident.actor}, ${incident.tenantId},
      ${incident.from}, ${incident.to}, ${incident.nature}, ${incident.consequences}, ${incident.measures}, ${incident.contact}, ${incident.entries})
    returning id`.execute(db);
  return result.rows[0]!.id;
}

/**
 * Freezes the scope into the incident: one row per affected person with the categories exposed
 * and their residency as it stands now (an erasure later does not change whom the regulator was
 * told about), read through the masking view like every person read. One statement whatever the
 * number of people; the statement text does not grow.
 */
export async function insertIncidentPeople(
  db: Kysely<Database>,
  incidentId: string,
  people: readonly { personId: string; categories: readonly string[]; reads: number }[],
): Promise<void> {
  if (people.length === 0) return;
  await sql`insert into incident_people (incident_id, person_id, residency, categories, reads)
    select ${incidentId}::uuid, x.person_id, coalesce(p.residency, 'UNKNOWN'),
      array(select jsonb_array_elements_text(x.categories)), x.reads
    from jsonb_to_recordset(${JSON.stringify(people.map((p) => ({ person_id: p.personId, categories: p.categories, reads: p.reads })))}::jsonb)
      as x(person_id text, categories jsonb, reads int)
    left join masked.people p on p.person_id = x.person_id`.execute(db);
}

export async function findIncident(db: Kysely<Database>, id: string): Promise<IncidentRow | undefined> {
  const result = await sql<IncidentRow>`${INCIDENT} where i.id = ${id}::uuid`.execute(db);
  return result.rows[0];
}

/** Newest first; `overdueAt`: only those with someone not notified past notifyBy. */
export async function listIncidents(db: Kysely<Database>, overdueAt: Date | undefined): Promise<IncidentRow[]> {
  const filter =
    overdueAt === undefined
      ? sql`true`
      : sql`i.notify_by < ${overdueAt} and exists (select 1 from incident_people p where p.incident_id = i.id and p.notified_at is null)`;
  const result = await sql<IncidentRow>`${INCIDENT} where ${filter} order by i.opened_at desc, i.id desc limit 10000`.execute(db);
  return result.rows;
}

/** People per category exposed. */
export async function incidentCategories(db: Kysely<Database>, incidentId: string): Promise<{ category: string; people: number }[]> {
  const result = await sql<{ category: string; people: number }>`select c as category, count(*)::int as people
    from incident_people p, unnest(p.categories) c where p.incident_id = ${incidentId}::uuid
    group by c order by c`.execute(db);
  return result.rows;
}

export interface NotificationRow {
  personId: string;
  /** The contact as held now (null once the person is erased). */
  email: string | null;
  residency: string;
  categories: string[];
  notifiedAt: Date | null;
}

/** One row per affected person, with their contact read now. */
export async function incidentNotifications(db: Kysely<Database>, incidentId: string): Promise<NotificationRow[]> {
  const result = await sql<NotificationRow>`select ip.person_id as "personId", p.email, ip.residency, ip.categories,
      ip.notified_at as "notifiedAt"
    from incident_people ip left join masked.people p on p.person_id = ip.person_id
    where ip.incident_id = ${incidentId}::uuid order by ip.person_id`.execute(db);
  return result.rows;
}

/** Counts of people by residency and category: no person in it. */
export async function regulatorCounts(db: Kysely<Database>, incidentId: string): Promise<{ residency: string; category: string; people: number }[]> {
  const result = await sql<{ residency: string; category: string; people: number }>`select ip.residency, c as category, count(*)::int as people
    from incident_people ip, unnest(ip.categories) c where ip.incident_id = ${incidentId}::uuid
    group by ip.residency, c order by ip.residency, c`.execute(db);
  return result.rows;
}

/** Marks people notified (once: a second mark keeps the first time); returns the ids not in the incident. */
export async function markPeopleNotified(db: Kysely<Database>, incidentId: string, personIds: readonly string[], by: string): Promise<string[]> {
  const known = await sql<{ person_id: string }>`select person_id from incident_people
    where incident_id = ${incidentId}::uuid and person_id = any(${[...personIds]}::text[])`.execute(db);
  const affected = new Set(known.rows.map((row) => row.person_id));
  const unknown = personIds.filter((id) => !affected.has(id));
  if (unknown.length > 0) return unknown;
  await sql`update incident_people set notified_at = now(), notified_by = ${by}
    where incident_id = ${incidentId}::uuid and person_id = any(${[...personIds]}::text[]) and notified_at is null`.execute(db);
  return [];
}

export interface RevocationRow {
  tokenId: string | null;
  actor: string | null;
  reason: string;
  revokedBy: string;
  at: Date;
}

export async function insertRevocation(
  db: Kysely<Database>,
  revocation: { tokenId: string | null; actor: string | null; reason: string; revokedBy: string; incidentId: string | null },
): Promise<RevocationRow> {
  const result = await sql<RevocationRow>`insert into revocations (token_id, actor, reason, revoked_by, incident_id)
    values (${revocation.tokenId}, ${revocation.actor}, ${revocation.reason}, ${revocation.revokedBy}, ${revocation.incidentId}::uuid)
    returning token_id as "tokenId", actor, reason, revoked_by as "revokedBy", at`.execute(db);
  return result.rows[0]!;
}

/** Whether a token (jti) or its actor (sub) is revoked: the per-request check (migration 0007). */
export async function isRevoked(db: Kysely<Database>, tokenId: string | null, actor: string): Promise<boolean> {
  const result = await sql<{ revoked: boolean }>`/* revocation */ select custodian_token_revoked(${tokenId}, ${actor}) as revoked`.execute(db);
  return result.rows[0]?.revoked ?? false;
}
