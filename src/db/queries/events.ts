import type { Kysely } from 'kysely';
import type { DataScope } from '../request-scope.js';
import type { Database } from '../tables.js';
import { keyIn, scopedToTenant, type TenantKey } from './tenant-key.js';

export interface EventRow {
  tenantId: string;
  id: string;
  name: string;
  venue: string | null;
  startsAt: Date;
}

/** Keyset position in the events list: ordered by start, then tenant and id for a total order. */
export type EventCursor = readonly [startsAt: string, tenantId: string, id: string];

function selectEvents(db: Kysely<Database>, scope: DataScope) {
  return db
    .selectFrom('events')
    .select(['tenant_id as tenantId', 'id', 'name', 'venue', 'starts_at as startsAt'])
    .where(scopedToTenant(scope, 'events.tenant_id'));
}

export async function listEvents(
  db: Kysely<Database>,
  scope: DataScope,
  page: { limit: number; after: EventCursor | undefined },
): Promise<EventRow[]> {
  let query = selectEvents(db, scope);
  if (page.after !== undefined) {
    const [startsAt, tenantId, id] = page.after;
    query = query.where((eb) =>
      eb(eb.refTuple('starts_at', 'tenant_id', 'id'), '>', eb.tuple(new Date(startsAt) as never, tenantId, id)),
    );
  }
  return query.orderBy('starts_at').orderBy('tenant_id').orderBy('id').limit(page.limit).execute();
}

/** Events with this id in the caller's scope; more than one only when platform callers span tenants. */
export async function findEventsById(db: Kysely<Database>, scope: DataScope, id: string): Promise<EventRow[]> {
  return selectEvents(db, scope).where('id', '=', id).orderBy('tenant_id').limit(2).execute();
}

export async function eventsByKeys(db: Kysely<Database>, scope: DataScope, keys: readonly TenantKey[]): Promise<EventRow[]> {
  return selectEvents(db, scope).where(keyIn('tenant_id', 'id', keys)).execute();
}
