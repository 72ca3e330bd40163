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

/** `(tenant_id, id) in ((...), ...)` for a batch of keys. */
export function keyIn(tenantColumn: string, idColumn: string, keys: readonly TenantKey[]): Expression<SqlBool> {
  if (keys.length === 0) return sql<SqlBool>`false`;
  const tuples = keys.map((key) => sql`(${key.tenantId}, ${key.id})`);
  return sql<SqlBool>`(${sql.ref(tenantColumn)}, ${sql.ref(idColumn)}) in (${sql.join(tuples)})`;
}
