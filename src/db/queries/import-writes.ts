import { sql, type Insertable, type Kysely } from 'kysely';
import type { Database } from '../tables.js';

/**
 * Rows per statement. Each batch travels as ONE parameter (a JSON array), so the statement text
 * and its parameter count stay the same whatever the batch or file size (PostgreSQL allows at
 * most 65,535 bind parameters per statement), and the database plans one statement per table.
 */
export const IMPORT_BATCH = 5000;

/** Called after each batch: the table, rows done so far, and rows in all. */
export type ImportProgress = (table: string, done: number, total: number) => void;

/**
 * Inserts rows that are not there yet and counts them. An import never overwrites: a person's
 * later choices (consent withdrawn, erasure) must not be undone by re-importing an old file.
 * Columns a row leaves out take their defaults.
 */
export async function insertMissing<T extends keyof Database & string>(
  db: Kysely<Database>,
  table: T,
  rows: readonly Insertable<Database[T]>[],
  progress?: ImportProgress,
): Promise<number> {
  if (rows.length === 0) return 0;
  const columns = Object.keys(rows[0] as object);
  const columnList = sql.join(columns.map((c) => sql.id(c)));
  let inserted = 0;
  for (let start = 0; start < rows.length; start += IMPORT_BATCH) {
    const batch = rows.slice(start, start + IMPORT_BATCH);
    // json_populate_recordset converts each value to the column's type, as an INSERT would.
    const result = await sql`insert into ${sql.table(table)} (${columnList})
      select ${columnList} from json_populate_recordset(null::${sql.table(table)}, ${JSON.stringify(batch)}::json)
      on conflict do nothing`.execute(db);
    inserted += Number(result.numAffectedRows ?? 0n);
    progress?.(table, Math.min(start + IMPORT_BATCH, rows.length), rows.length);
  }
  return inserted;
}

/** Which of these tenants exist (one array parameter, whatever the count). */
export async function existingTenants(db: Kysely<Database>, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('tenants').select('id').where(sql<boolean>`id = any(${[...ids]}::text[])`).execute();
  return new Set(rows.map((r) => r.id));
}

/** Which of these people exist (erased people still exist as a record, and are never re-created). */
export async function existingPeople(db: Kysely<Database>, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('people').select('id').where(sql<boolean>`id = any(${[...ids]}::text[])`).execute();
  return new Set(rows.map((r) => r.id));
}

/** Which of these `${tenant}\0${event}` keys exist. */
export async function existingEvents(db: Kysely<Database>, keys: readonly string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const tenants = keys.map((key) => key.split('\u0000')[0]!);
  const ids = keys.map((key) => key.split('\u0000')[1]!);
  const rows = await db
    .selectFrom('events')
    .select(['tenant_id', 'id'])
    .where(sql<boolean>`(tenant_id, id) in (select * from unnest(${tenants}::text[], ${ids}::text[]))`)
    .execute();
  return new Set(rows.map((r) => `${r.tenant_id}\u0000${r.id}`));
}

/** Creates the tenant's attendee rows for these people (opaque ids) and returns every one's id. */
export async function ensureAttendees(
  db: Kysely<Database>,
  pairs: readonly { tenantId: string; personId: string }[],
  progress?: ImportProgress,
): Promise<{ inserted: number; idOf: Map<string, string> }> {
  const inserted = await insertMissing(
    db,
    'attendees',
    pairs.map((p) => ({ tenant_id: p.tenantId, person_id: p.personId })),
    progress,
  );
  const idOf = new Map<string, string>();
  for (let start = 0; start < pairs.length; start += IMPORT_BATCH) {
    const batch = pairs.slice(start, start + IMPORT_BATCH);
    const rows = await db
      .selectFrom('attendees')
      .select(['tenant_id', 'person_id', 'id'])
      .where(
        sql<boolean>`(tenant_id, person_id) in (select * from unnest(${batch.map((p) => p.tenantId)}::text[], ${batch.map((p) => p.personId)}::text[]))`,
      )
      .execute();
    for (const row of rows) idOf.set(`${row.tenant_id}\u0000${row.person_id}`, row.id);
  }
  return { inserted, idOf };
}
