import { sql, type Kysely } from 'kysely';
import type { PersonReadOptions } from './attendees.js';
import { maskedFor } from './person-columns.js';
import type { DataScope } from '../request-scope.js';
import type { Database } from '../tables.js';
import { keyIn, scopedToTenant, type TenantKey } from './tenant-key.js';

export interface OrderRow {
  tenantId: string;
  id: string;
  /** The person behind the order's attendee (null once erased): for the access log only. */
  personId: string | null;
  eventId: string;
  attendeeId: string;
  placedAt: Date;
  totalCents: number;
  currency: string;
  status: string;
  paymentRef: string | null;
}

export interface TicketRow {
  tenantId: string;
  id: string;
  orderId: string;
  type: string;
  checkedInAt: Date | null;
}

export interface RelationshipRow {
  tenantId: string;
  fromAttendeeId: string;
  toAttendeeId: string;
  kind: string;
}

function selectOrders(db: Kysely<Database>, scope: DataScope) {
  return db
    .selectFrom('orders')
    .leftJoin('attendees as a', (join) => join.onRef('a.tenant_id', '=', 'orders.tenant_id').onRef('a.id', '=', 'orders.attendee_id'))
    .select([
      'orders.tenant_id as tenantId',
      'orders.id as id',
      'a.person_id as personId',
      'orders.event_id as eventId',
      'orders.attendee_id as attendeeId',
      'orders.placed_at as placedAt',
      'orders.total_cents as totalCents',
      'orders.currency as currency',
      'orders.status as status',
      'orders.payment_ref as paymentRef',
    ])
    .where(scopedToTenant(scope, 'orders.tenant_id'));
}

/** The orders of many attendees in one statement, oldest first. */
export async function ordersByAttendees(
  db: Kysely<Database>,
  scope: DataScope,
  attendees: readonly TenantKey[],
): Promise<OrderRow[]> {
  return selectOrders(db, scope)
    .where(keyIn('orders.tenant_id', 'orders.attendee_id', attendees))
    .orderBy('orders.placed_at')
    .orderBy('orders.id')
    .execute();
}

export async function findOrdersById(db: Kysely<Database>, scope: DataScope, id: string): Promise<OrderRow[]> {
  return selectOrders(db, scope).where('orders.id', '=', id).orderBy('orders.tenant_id').limit(2).execute();
}

/** The tickets of many orders in one statement. */
export async function ticketsByOrders(
  db: Kysely<Database>,
  scope: DataScope,
  orders: readonly TenantKey[],
): Promise<TicketRow[]> {
  return db
    .selectFrom('tickets')
    .select(['tenant_id as tenantId', 'id', 'order_id as orderId', 'type', 'checked_in_at as checkedInAt'])
    .where(scopedToTenant(scope, 'tickets.tenant_id'))
    .where(keyIn('tenant_id', 'order_id', orders))
    .orderBy('id')
    .execute();
}

/**
 * Relationships touching many attendees, in either direction, in one statement. A relationship
 * is hidden when the consent rules hide relationships for either of its two people (an
 * enrichment opt-out stops relationship tracking from both sides).
 */
export async function relationshipsByAttendees(
  db: Kysely<Database>,
  scope: DataScope,
  attendees: readonly TenantKey[],
  options: PersonReadOptions,
): Promise<RelationshipRow[]> {
  return db
    .selectFrom('relationships')
    .select(['tenant_id as tenantId', 'from_attendee_id as fromAttendeeId', 'to_attendee_id as toAttendeeId', 'kind'])
    .where(scopedToTenant(scope, 'relationships.tenant_id'))
    .where((eb) =>
      eb.or([keyIn('tenant_id', 'from_attendee_id', attendees), keyIn('tenant_id', 'to_attendee_id', attendees)]),
    )
    .where(sql<boolean>`not exists (select 1 from attendees a
      left join people p on p.id = a.person_id
      left join consents c on c.person_id = a.person_id
      where a.tenant_id = relationships.tenant_id
        and a.id in (relationships.from_attendee_id, relationships.to_attendee_id)
        and ${maskedFor(options.rules, 'relationships')})`)
    .orderBy('kind')
    .execute();
}
