import { sql, type Expression, type SqlBool } from 'kysely';
import type { TenantKey } from './tenant-key.js';

/**
 * Attendees (aliased `v`) who hold an order for the event: the dashboard's "attendees of an
 * event". Reads only the order's keys, which the application role may read directly.
 */
export function attendsEvent(event: TenantKey): Expression<SqlBool> {
  return sql<SqlBool>`(v.tenant_id = ${event.tenantId} and exists (select 1 from orders o
    where o.tenant_id = v.tenant_id and o.attendee_id = v.id and o.event_id = ${event.id}))`;
}

/** The keyset position after an attendee, for pages ordered by `v.tenant_id, v.id`. */
export function afterAttendee([tenantId, id]: readonly [string, string]): Expression<SqlBool> {
  return sql<SqlBool>`(v.tenant_id, v.id) > (${tenantId}, ${id}::uuid)`;
}
