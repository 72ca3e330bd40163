import { sql, type Kysely } from 'kysely';
import { migrations } from '../../migrations/index.js';
import type { Database } from './tables.js';

/** Migrations the code knows that the database has not applied (readable by the application role). */
export async function pendingMigrations(db: Kysely<Database>): Promise<string[]> {
  let applied: Set<string>;
  try {
    const rows = await sql<{ name: string }>`select name from custodian_migrations`.execute(db);
    applied = new Set(rows.rows.map((r) => r.name));
  } catch (error) {
    // Only "no migrations table yet" means nothing is applied; anything else (an unreachable
    // database, a missing grant) is reported as what it is, not as missing migrations.
    if ((error as { code?: unknown }).code !== '42P01') throw error;
    applied = new Set();
  }
  return Object.keys(migrations).filter((name) => !applied.has(name));
}
