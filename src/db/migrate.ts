import { Migrator, sql, type Kysely, type MigrationResultSet } from 'kysely';
import { migrations } from '../../migrations/index.js';
import { GRANTS_ROLE } from './request-scope.js';
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
 * CONTRACT.md: `npm run migrate` creates or updates a LOGIN role holding only the grants the
 * gateway needs (the migrations grant them to custodian_app); the password comes from
 * APP_DB_PASSWORD. Roles are cluster-wide, so a server holding several Custodian databases gives
 * each its own role (APP_DB_ROLE): that role is created here and given, in this database only,
 * exactly custodian_app's privileges (copied, not inherited: membership in custodian_app would
 * carry over to every database on the server). Migrating one database then never touches the
 * login another database's gateway uses.
 */
export async function ensureApplicationLogin(db: Kysely<Database>, password: string | undefined, role: string = GRANTS_ROLE): Promise<void> {
  if (role !== GRANTS_ROLE) {
    await sql`do $$ begin
      create role ${sql.id(role)};
    exception when duplicate_object or unique_violation then null;
    end $$`.execute(db);
    await copyPrivileges(db, GRANTS_ROLE, role);
  }
  const passwordClause = password === undefined ? sql`` : sql` password ${sql.lit(password)}`;
  // Roles are shared by every database of the server: migrating two databases at once can race on
  // the same role row ("tuple concurrently updated"), which a retry settles.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await sql`alter role ${sql.id(role)} login nosuperuser nobypassrls nocreatedb nocreaterole${passwordClause}`.execute(db);
      return;
    } catch (error) {
      if (attempt >= 5 || !/tuple concurrently updated/.test((error as Error).message)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

/**
 * Makes `to`'s privileges in this database exactly `from`'s: schema usage, tables and views,
 * columns and functions, in every schema the migrations made (public, and any other).
 */
async function copyPrivileges(db: Kysely<Database>, from: string, to: string): Promise<void> {
  const target = sql.id(to);
  const schemas = await sql<{ nspname: string; usage: boolean }>`
    select n.nspname, exists (select 1 from aclexplode(n.nspacl) a where a.grantee = ${from}::regrole and a.privilege_type = 'USAGE') as usage
    from pg_namespace n
    where n.nspname <> 'information_schema' and n.nspname not like 'pg\_%'`.execute(db);
  for (const schema of schemas.rows) {
    const name = sql.id(schema.nspname);
    await sql`revoke all on all tables in schema ${name} from ${target}`.execute(db);
    await sql`revoke all on all sequences in schema ${name} from ${target}`.execute(db);
    await sql`revoke all on all functions in schema ${name} from ${target}`.execute(db);
    await sql`revoke all on schema ${name} from ${target}`.execute(db);
    if (schema.usage) await sql`grant usage on schema ${name} to ${target}`.execute(db);
  }
  const relations = await sql<{ nspname: string; relname: string; privilege: string }>`
    select n.nspname, c.relname, a.privilege_type as privilege
    from pg_class c join pg_namespace n on n.oid = c.relnamespace, aclexplode(c.relacl) a
    where a.grantee = ${from}::regrole`.execute(db);
  for (const row of relations.rows) {
    await sql`grant ${sql.raw(privilegeKeyword(row.privilege))} on ${sql.id(row.nspname, row.relname)} to ${target}`.execute(db);
  }
  const columns = await sql<{ nspname: string; relname: string; attname: string; privilege: string }>`
    select n.nspname, c.relname, att.attname, a.privilege_type as privilege
    from pg_attribute att join pg_class c on c.oid = att.attrelid join pg_namespace n on n.oid = c.relnamespace, aclexplode(att.attacl) a
    where a.grantee = ${from}::regrole`.execute(db);
  for (const row of columns.rows) {
    await sql`grant ${sql.raw(privilegeKeyword(row.privilege))} (${sql.id(row.attname)}) on ${sql.id(row.nspname, row.relname)} to ${target}`.execute(db);
  }
  // regprocedure prints a function's quoted, schema-qualified signature.
  const functions = await sql<{ signature: string }>`
    select p.oid::regprocedure::text as signature
    from pg_proc p, aclexplode(p.proacl) a
    where a.grantee = ${from}::regrole and a.privilege_type = 'EXECUTE'`.execute(db);
  for (const row of functions.rows) await sql`grant execute on function ${sql.raw(row.signature)} to ${target}`.execute(db);
}

const PRIVILEGES = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER', 'USAGE', 'MAINTAIN']);
function privilegeKeyword(privilege: string): string {
  if (!PRIVILEGES.has(privilege)) throw new MigrationError(`Unexpected privilege ${privilege} on the application role.`);
  return privilege;
}

/** Monthly access-log partitions from this month to `monthsAhead` months on (idempotent). */
export async function ensureAccessLogPartitions(db: Kysely<Database>, monthsAhead = 12): Promise<void> {
  await sql`select custodian_access_log_partition(m::date)
    from generate_series(date_trunc('month', now()), date_trunc('month', now()) + make_interval(months => ${monthsAhead}), interval '1 month') as m`.execute(db);
}
