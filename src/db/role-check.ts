import { sql, type Kysely } from 'kysely';
import { UnsafeDatabaseRoleError } from '../errors.js';
import type { Database } from './tables.js';

export interface RoleFacts {
  role: string;
  superuser: boolean;
  bypassRls: boolean;
  ownsTables: string[];
}

/** What the connected role can do that an application role must not. */
export async function inspectConnectedRole(db: Kysely<Database>): Promise<RoleFacts> {
  const result = await sql<{ role: string; superuser: boolean; bypass_rls: boolean; owned: string[] | null }>`
    select r.rolname as role, r.rolsuper as superuser, r.rolbypassrls as bypass_rls,
      (select array_agg(c.relname::text order by c.relname)
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = current_schema() and c.relkind in ('r', 'p')
          and pg_has_role(current_user, c.relowner, 'MEMBER')) as owned
    from pg_roles r where r.rolname = current_user
  `.execute(db);
  const row = result.rows[0];
  if (row === undefined) throw new UnsafeDatabaseRoleError('Could not read the connected role from pg_roles.');
  return { role: row.role, superuser: row.superuser, bypassRls: row.bypass_rls, ownsTables: row.owned ?? [] };
}

/** CONTRACT.md: in production the gateway refuses to serve as a superuser, a table owner or a BYPASSRLS role. */
export function assertSafeApplicationRole(facts: RoleFacts): void {
  const problems = [
    facts.superuser ? 'is a superuser' : null,
    facts.bypassRls ? 'has BYPASSRLS' : null,
    facts.ownsTables.length > 0 ? `owns (or is a member of the owner of) ${facts.ownsTables.join(', ')}` : null,
  ].filter((p): p is string => p !== null);
  if (problems.length > 0) {
    throw new UnsafeDatabaseRoleError(
      `Refusing to serve: database role "${facts.role}" ${problems.join(' and ')}. ` +
        'Connect DATABASE_URL as the application role npm run migrate creates (APP_DB_ROLE, default custodian_app).',
    );
  }
}
