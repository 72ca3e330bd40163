import { Migrator, sql, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from '../../migrations/index.js';
import { APP_ROLE } from './request-scope.js';
import type { Database } from './tables.js';

export class MigrationError extends Error {
  readonly code = 'MIGRATION_FAILED';
}

/** Applies every pending migration as the connected (owner) role; forward-only. */
export async function migrateToLatest(db: Kysely<Database>): Promise<MigrationResultSet> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'custodian_migrations',
    migrationLockTableName: 'custodian_migrations_lock',
  });
  const result = await migrator.migrateToLatest();
  if (result.error !== undefined) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new MigrationError(`Migration ${failed} failed: ${(result.error as Error).message ?? String(result.error)}`);
  }
  return result;
}

/**
 * CONTRACT.md: `npm run migrate` creates or updates a LOGIN role custodian_app holding only the
 * grants the gateway needs (the migrations grant them); the password comes from APP_DB_PASSWORD.
 */
export async function ensureApplicationLogin(db: Kysely<Database>, password: string | undefined): Promise<void> {
  const passwordClause = password === undefined ? sql`` : sql` password ${sql.lit(password)}`;
  // Roles are shared by every database of the server: migrating two databases at once can race on
  // the same role row ("tuple concurrently updated"), which a retry settles.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await sql`alter role ${sql.id(APP_ROLE)} login nosuperuser nobypassrls nocreatedb nocreaterole${passwordClause}`.execute(db);
      return;
    } catch (error) {
      if (attempt >= 5 || !/tuple concurrently updated/.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/** Monthly access-log partitions from this month to `monthsAhead` months on (idempotent). */
export async function ensureAccessLogPartitions(db: Kysely<Database>, monthsAhead = 12): Promise<void> {
  await sql`select custodian_access_log_partition(m::date)
    from generate_series(date_trunc('month', now()), date_trunc('month', now()) + make_interval(months => ${monthsAhead}), interval '1 month') as m`.execute(db);
}
