import { sql, type Kysely } from 'kysely';

/*
 * access_log_cuts is evidence like the log itself: each row says where retention cut the log and
 * carries the signed checkpoint `audit:verify` starts from. It was guarded only by row-level
 * security (0007). Now UPDATE, DELETE and TRUNCATE are refused for everyone, the owner included,
 * as on access_log; retention only ever inserts. Rewriting a cut takes disabling the triggers,
 * and the cut's signature still gives it away.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create trigger access_log_cuts_append_only before update or delete on access_log_cuts
    for each row execute function custodian_access_log_append_only()`.execute(db);
  await sql`create trigger access_log_cuts_no_truncate before truncate on access_log_cuts
    for each statement execute function custodian_access_log_append_only()`.execute(db);
}
