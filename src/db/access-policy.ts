import { sql, type Kysely } from 'kysely';
import type { DatabasePolicy } from '../policy/database-policy.js';
import type { Database } from './tables.js';

/**
 * Writes the policy the masking views enforce (migration 0005), replacing what was there, as the
 * owner: the application role can read it but never change it.
 */
export async function writeAccessPolicy(db: Kysely<Database>, policy: DatabasePolicy): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`delete from access_policy`.execute(trx);
    for (const row of policy.rows) {
      await sql`insert into access_policy (purpose, levels, reads_people, aggregable, reasons, unlisted, uncounted, dimensions, minimum_group_size, policy_hash)
        values (${row.purpose}, ${JSON.stringify(row.levels)}::jsonb, ${row.readsPeople}, ${row.aggregable}::text[], ${JSON.stringify(row.reasons)}::jsonb,
          ${row.unlisted}::text[], ${row.uncounted}::text[], ${JSON.stringify(row.dimensions)}::jsonb, ${row.minimumGroupSize}, ${policy.hash})`.execute(trx);
    }
  });
}

/** The hash of the policy the database enforces; undefined when none was written. */
export async function accessPolicyHash(db: Kysely<Database>): Promise<string | undefined> {
  const rows = await sql<{ hash: string }>`select distinct policy_hash as hash from access_policy`.execute(db);
  return rows.rows.length === 1 ? rows.rows[0]!.hash : undefined;
}
