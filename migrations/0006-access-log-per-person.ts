import { sql, type Kysely } from 'kysely';

/*
 * The access log tells the whole truth, per person (POLICY.md, "The access log"):
 *
 * - correlation_id: a caller's X-Request-Id, kept beside the gateway's own request id (never
 *   instead of it).
 * - masked_by_subject: what was masked and why, per person, so each person's view of the log (and
 *   a privacy officer's view of one person) shows only what concerns that person.
 * - aggregates: aggregate reads, as `DIMENSION:category`; they read no one person.
 *
 * Entries written before this migration have none of these, and their content hash does not cover
 * them (src/audit/entry-hash.ts hashes the additions only when an entry has any).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table access_log
    add column correlation_id text,
    add column masked_by_subject jsonb not null default '{}'::jsonb,
    add column aggregates text[] not null default '{}'::text[]`.execute(db);
}
