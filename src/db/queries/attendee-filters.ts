import { sql, type Expression, type SqlBool } from 'kysely';
import type { TenantKey } from './tenant-key.js';

/** Attendees (aliased `a`) who hold an order for the event: the dashboard's "attendees of an event". */
export function attendsEvent(event: TenantKey): Expression<SqlBool> {
  return sql<SqlBool>`(a.tenant_id = ${event.tenantId} and exists (select 1 from orders o
    where o.tenant_id = a.tenant_id and o.attendee_id = a.id and o.event_id = ${event.id}))`;
}

/** The keyset position after an attendee, for pages ordered by `a.tenant_id, a.id`. */
export function afterAttendee([tenantId, id]: readonly [string, string]): Expression<SqlBool> {
  return sql<SqlBool>`(a.tenant_id, a.id) > (${tenantId}, ${id}::uuid)`;
}
