import { sql, type Insertable, type Kysely } from 'kysely';
import type { Database } from '../tables.js';

const CHUNK = 500;

/**
 * Inserts rows that are not there yet and counts them. An import never overwrites: a person's
 * later choices (consent withdrawn, erasure) must not be undone by re-importing an old file.
 */
export async function insertMissing<T extends keyof Database & string>(
  db: Kysely<Database>,
  table: T,
  rows: readonly Insertable<Database[T]>[],
): Promise<number> {
  let inserted = 0;
  for (let start = 0; start < rows.length; start += CHUNK) {
    const chunk = rows.slice(start, start + CHUNK);
    const result = await db
      .insertInto(table)
      .values(chunk as never)
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    inserted += Number(result.numInsertedOrUpdatedRows ?? 0n);
  }
  return inserted;
}

/** Which of these tenants exist. */
export async function existingTenants(db: Kysely<Database>, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('tenants').select('id').where('id', 'in', ids).execute();
  return new Set(rows.map((r) => r.id));
}

/** Which of these people exist (erased people still exist as a record, and are never re-created). */
export async function existingPeople(db: Kysely<Database>, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('people').select('id').where('id', 'in', ids).execute();
  return new Set(rows.map((r) => r.id));
}

/** Which of these `${tenant}\0${event}` keys exist. */
export async function existingEvents(db: Kysely<Database>, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const tuples = keys.map((key) => {
    const [tenant, id] = key.split('\u0000');
    return sql`(${tenant}, ${id})`;
  });
  const rows = await db
    .selectFrom('events')
    .select(['tenant_id', 'id'])
    .where(sql<boolean>`(tenant_id, id) in (${sql.join(tuples)})`)
    .execute();
  return new Set(rows.map((r) => `${r.tenant_id}\u0000${r.id}`));
}

/** Creates the tenant's attendee rows for these people (opaque ids) and returns every one's id. */
export async function ensureAttendees(
  db: Kysely<Database>,
  pairs: readonly { tenantId: string; personId: string }[],
): Promise<{ inserted: number; idOf: Map<string, string> }> {
  const inserted = await insertMissing(
    db,
    'attendees',
    pairs.map((p) => ({ tenant_id: p.tenantId, person_id: p.personId })),
  );
  const idOf = new Map<string, string>();
  for (let start = 0; start < pairs.length; start += CHUNK) {
    const tuples = pairs.slice(start, start + CHUNK).map((p) => sql`(${p.tenantId}, ${p.personId})`);
    const rows = await db
      .selectFrom('attendees')
      .select(['tenant_id', 'person_id', 'id'])
      .where(sql<boolean>`(tenant_id, person_id) in (${sql.join(tuples)})`)
      .execute();
    for (const row of rows) idOf.set(`${row.tenant_id}\u0000${row.person_id}`, row.id);
  }
  return { inserted, idOf };
}
