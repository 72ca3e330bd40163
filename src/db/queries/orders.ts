import type { Kysely } from 'kysely';
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
  totalCents: number | null;
  currency: string | null;
  status: string | null;
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

/**
 * Orders through the masking view: an order whose person's state hides it (restriction, objection
 * for the purpose) is not there, by id or by attendee alike, and an erased person's orders carry
 * no payment reference.
 */
function selectOrders(db: Kysely<Database>, scope: DataScope) {
  return db
    .selectFrom('masked.orders as o')
    .select([
      'o.tenant_id as tenantId',
      'o.id as id',
      'o.person_id as personId',
      'o.event_id as eventId',
      'o.attendee_id as attendeeId',
      'o.placed_at as placedAt',
      'o.total_cents as totalCents',
      'o.currency as currency',
      'o.status as status',
      'o.payment_ref as paymentRef',
    ])
    .where(scopedToTenant(scope, 'o.tenant_id'))
    .$castTo<OrderRow>();
}

/** The orders of many attendees in one statement, oldest first. */
export async function ordersByAttendees(db: Kysely<Database>, scope: DataScope, attendees: readonly TenantKey[]): Promise<OrderRow[]> {
  return selectOrders(db, scope)
    .where(keyIn('o.tenant_id', 'o.attendee_id', attendees, 'uuid'))
    .orderBy('o.placed_at')
    .orderBy('o.id')
    .execute();
}

export async function findOrdersById(db: Kysely<Database>, scope: DataScope, id: string): Promise<OrderRow[]> {
  return selectOrders(db, scope).where('o.id', '=', id).orderBy('o.tenant_id').limit(2).execute();
}

/** The tickets of many orders in one statement (only orders the masking view lets through have any). */
export async function ticketsByOrders(db: Kysely<Database>, scope: DataScope, orders: readonly TenantKey[]): Promise<TicketRow[]> {
  return db
    .selectFrom('masked.tickets as t')
    .select(['t.tenant_id as tenantId', 't.id as id', 't.order_id as orderId', 't.type as type', 't.checked_in_at as checkedInAt'])
    .where(scopedToTenant(scope, 't.tenant_id'))
    .where(keyIn('t.tenant_id', 't.order_id', orders))
    .orderBy('t.id')
    .execute();
}

/**
 * Relationships touching many attendees, in either direction, in one statement. The masking view
 * hides a relationship when either of its two people's states hides relationships (an enrichment
 * opt-out stops relationship tracking from both sides).
 */
export async function relationshipsByAttendees(
  db: Kysely<Database>,
  scope: DataScope,
  attendees: readonly TenantKey[],
): Promise<RelationshipRow[]> {
  return db
    .selectFrom('masked.relationships as r')
    .select(['r.tenant_id as tenantId', 'r.from_attendee_id as fromAttendeeId', 'r.to_attendee_id as toAttendeeId', 'r.kind as kind'])
    .where(scopedToTenant(scope, 'r.tenant_id'))
    .where((eb) => eb.or([keyIn('r.tenant_id', 'r.from_attendee_id', attendees, 'uuid'), keyIn('r.tenant_id', 'r.to_attendee_id', attendees, 'uuid')]))
    .orderBy('r.kind')
    .execute();
}
