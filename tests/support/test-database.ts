import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { Migrator, sql, type Kysely } from 'kysely';
import { migrations } from '../../migrations/index.js';
import { projectRoot } from '../../src/config.js';
import { openDatabase, type DatabaseHandle, type DatabaseKind } from '../../src/db/database.js';
import { writeAccessPolicy } from '../../src/db/access-policy.js';
import { ensureApplicationLogin, migrateToLatest } from '../../src/db/migrate.js';
import type { Database } from '../../src/db/tables.js';
import { databasePolicy } from '../../src/policy/database-policy.js';
import { loadPolicyFile } from '../../src/policy/policy.js';
import { importData } from '../../src/privacy/import/import-data.js';

/** The policy the project serves with, as the masking views enforce it. */
const projectPolicy = () => databasePolicy(loadPolicyFile(path.join(projectRoot, 'schema', 'policy.yaml')));

/** Every database test runs on PGlite, and on real PostgreSQL too when TEST_DATABASE_URL is set. */
export const DATABASE_KINDS: DatabaseKind[] = process.env.TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

export const demoData = (): unknown => JSON.parse(fs.readFileSync(path.join(projectRoot, 'fixtures', 'demo.json'), 'utf8'));

export interface TestDatabase {
  kind: DatabaseKind;
  /** Connection the gateway serves with: custodian_app on PostgreSQL; the embedded instance on PGlite. */
  app: DatabaseHandle;
  /** The owner: migrations, imports and direct inspection (bypasses RLS on both). */
  owner: DatabaseHandle;
  /** Connection strings on PostgreSQL (undefined on PGlite). */
  appUrl: string | undefined;
  ownerUrl: string | undefined;
  /** Opens another application-role handle (for example a pool of size 1, with a bounded wait). */
  openApp(poolSize?: number, poolTimeoutMs?: number): Promise<DatabaseHandle>;
  destroy(): Promise<void>;
}

function withDatabase(url: string, database: string, user?: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  if (user !== undefined) {
    parsed.username = user;
    parsed.password = 'custodian-test';
  }
  return parsed.toString();
}

/**
 * Migrates up to and including the migration `last` only (a database as an older release left it;
 * migrateToLatest then applies the rest, as an upgrade does).
 */
async function migrateUpTo(db: Kysely<Database>, last: string): Promise<void> {
  const older = Object.fromEntries(Object.entries(migrations).filter(([name]) => name <= last));
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => older },
    migrationTableName: 'custodian_migrations',
    migrationLockTableName: 'custodian_migrations_lock',
  });
  const result = await migrator.migrateToLatest();
  if (result.error !== undefined) throw result.error;
}

/**
 * A fresh, migrated database; with `seed`, the demo data set is imported as the owner. On
 * PostgreSQL it is created on the server of `adminUrl` (TEST_DATABASE_URL by default) and
 * dropped by destroy(). With `migratedUpTo`, only the migrations up to that one are applied, and
 * neither the access policy nor data are written.
 */
export async function createTestDatabase(
  kind: DatabaseKind,
  options: { seed?: boolean; adminUrl?: string; name?: string; migratedUpTo?: string } = {},
): Promise<TestDatabase> {
  const seed = options.migratedUpTo === undefined && (options.seed ?? true);
  const migrate = async (db: Kysely<Database>) => {
    if (options.migratedUpTo !== undefined) return migrateUpTo(db, options.migratedUpTo);
    await migrateToLatest(db);
    await writeAccessPolicy(db, projectPolicy());
  };
  if (kind === 'pglite') {
    const pglite = await PGlite.create();
    const owner = await openDatabase({ pglite });
    await migrate(owner.db);
    if (seed) await importData(owner.db, demoData());
    return {
      kind,
      owner,
      app: owner,
      appUrl: undefined,
      ownerUrl: undefined,
      openApp: async (_poolSize?: number, poolTimeoutMs?: number) => openDatabase({ pglite, poolTimeoutMs }),
      destroy: () => pglite.close(),
    };
  }
  const adminUrl = options.adminUrl ?? process.env.TEST_DATABASE_URL!;
  const name = options.name ?? `custodian_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const ownerUrl = withDatabase(adminUrl, name);
  const appUrl = withDatabase(adminUrl, name, 'custodian_app');
  const owner = await openDatabase({ url: ownerUrl, poolSize: 3 });
  await migrate(owner.db);
  await ensureApplicationLogin(owner.db, 'custodian-test');
  if (seed) await importData(owner.db, demoData());
  // As the gateway serves: statements prepared once per connection (src/db/prepared-statements.ts).
  const app = await openDatabase({ url: appUrl, poolSize: 5, preparedStatements: true });
  const extra: DatabaseHandle[] = [];
  return {
    kind,
    owner,
    app,
    appUrl,
    ownerUrl,
    openApp: async (poolSize = 5, poolTimeoutMs?: number) => {
      const handle = await openDatabase({ url: appUrl, poolSize, poolTimeoutMs, preparedStatements: true });
      extra.push(handle);
      return handle;
    },
    destroy: async () => {
      for (const handle of extra) await handle.close().catch(() => undefined);
      await app.close();
      await owner.close();
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/** Runs raw SQL as the application role with an optional scope, tenant and purpose, exactly as a buggy query would. */
export async function rawAsApp<T>(
  database: TestDatabase,
  statement: string,
  settings: { scope?: string; tenant?: string; person?: string; purpose?: string } = {},
): Promise<T[]> {
  return database.app.db.transaction().execute(async (trx) => {
    await sql`select set_config('role', 'custodian_app', true)`.execute(trx);
    if (settings.scope !== undefined) await sql`select set_config('app.scope', ${settings.scope}, true)`.execute(trx);
    if (settings.tenant !== undefined) await sql`select set_config('app.tenant_id', ${settings.tenant}, true)`.execute(trx);
    if (settings.person !== undefined) await sql`select set_config('app.person_id', ${settings.person}, true)`.execute(trx);
    if (settings.purpose !== undefined) await sql`select set_config('app.purpose', ${settings.purpose}, true)`.execute(trx);
    const result = await sql.raw<T>(statement).execute(trx);
    return result.rows;
  });
}
