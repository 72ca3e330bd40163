import { sql, type Expression, type SqlBool } from 'kysely';
import type { DataScope } from '../request-scope.js';

/** Tenant-owned rows are identified by (tenant, id); ids are only unique within a tenant. */
export interface TenantKey {
  readonly tenantId: string;
  readonly id: string;
}

export const tenantKeyString = (key: TenantKey): string => `${key.tenantId}\u0000${key.id}`;

/**
 * The query layer's own tenant filter, on top of RLS: under a tenant scope every query also says
 * `tenant_id = $tenant`, so a policy mistake and a query mistake must coincide to leak a row.
 */
export function scopedToTenant(scope: DataScope, column: string): Expression<SqlBool> {
  return scope.kind === 'tenant' ? sql<SqlBool>`${sql.ref(column)} = ${scope.tenantId}` : sql<SqlBool>`true`;
}

/** The SQL type of an id column: attendee ids are uuids, every other id is text. */
export type IdType = 'text' | 'uuid';

/**
 * `(tenant_id, id)` among a batch of keys, as array parameters: the statement's text is the same
 * for 1 key or 500, so PostgreSQL parses one shape (a list of 500 pairs took longer to plan than
 * to run). Keys of one tenant (every tenant-scoped request) become `tenant_id = $1 and id =
 * any($2)`, which an index answers directly and the planner estimates by the array's length;
 * keys across tenants are matched as pairs.
 */
export function keyIn(tenantColumn: string, idColumn: string, keys: readonly TenantKey[], idType: IdType = 'text'): Expression<SqlBool> {
  if (keys.length === 0) return sql<SqlBool>`false`;
  const ids = keys.map((key) => key.id);
  const tenant = keys[0]!.tenantId;
  if (keys.every((key) => key.tenantId === tenant)) {
    return sql<SqlBool>`(${sql.ref(tenantColumn)} = ${tenant} and ${sql.ref(idColumn)} = any(${ids}::${sql.raw(idType)}[]))`;
  }
  const tenants = keys.map((key) => key.tenantId);
  return sql<SqlBool>`(${sql.ref(tenantColumn)}, ${sql.ref(idColumn)}) in (select k.tenant_id, k.id
    from unnest(${tenants}::text[], ${ids}::${sql.raw(idType)}[]) as k(tenant_id, id))`;
}
