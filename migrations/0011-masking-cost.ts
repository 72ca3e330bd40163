import { sql, type Kysely } from 'kysely';
import { maskedViewDefinitions } from './0005-masked-reads.js';

/*
 * The masking views, made cheap per row (issue 10). Same columns, same values, same rows: only how
 * PostgreSQL evaluates them changes. Measured on the 100-attendee dashboard page (PostgreSQL 15):
 * `select * from masked.attendees` went from 19 ms to 1.5 ms of execution.
 *
 * - custodian_reveal becomes STABLE. Its body calls convert_to(), which is STABLE, and PostgreSQL
 *   only inlines a SQL function whose body is no more volatile than the function says; declared
 *   IMMUTABLE, it ran through the SQL-function executor for every masked cell (about 5 µs each).
 *   Inlined, it is an expression like any other. Its result still depends only on its arguments.
 * - Each person's state (mask reasons, list membership) is computed once per row: the lateral
 *   subquery is fenced with `offset 0`. Pulled up into the view, its expression was copied into
 *   every column that consults it and re-evaluated per column.
 *
 * The views keep their owner (custodian_reader) and grants: CREATE OR REPLACE keeps both.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter function custodian_reveal(text, text, text) stable`.execute(db);
  for (const [name, body] of maskedViewDefinitions(true)) {
    await sql.raw(`create or replace view masked.${name} with (security_barrier) as ${body}`).execute(db);
  }
}
