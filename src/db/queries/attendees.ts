import { sql, type Kysely } from 'kysely';
import type { DataScope } from '../request-scope.js';
import type { Database } from '../tables.js';
import { PERSON_VIEW_COLUMNS, type PersonFields } from './person-columns.js';
import { afterAttendee, attendsEvent } from './attendee-filters.js';
import { keyIn, scopedToTenant, type TenantKey } from './tenant-key.js';

/** An attendee with the person's fields as this tenant may know them (null where not held). */
export interface AttendeeRow extends PersonFields {
  tenantId: string;
  id: string;
}

export type AttendeeCursor = readonly [tenantId: string, id: string];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Attendee ids are UUIDs; anything else cannot name one, and must not reach SQL as a cast error. */
export const isAttendeeId = (id: string): boolean => UUID.test(id);

/** Attendees through the masking view: the transaction's purpose and each person's state decide every value. */
function selectAttendees(db: Kysely<Database>, scope: DataScope) {
  return db
    .selectFrom('masked.attendees as v')
    .select(['v.tenant_id as tenantId', 'v.id as id', 'v.person_id as personId', ...PERSON_VIEW_COLUMNS])
    .where(scopedToTenant(scope, 'v.tenant_id'))
    .$castTo<AttendeeRow>();
}

/** A page of attendees, all of the scope's or those holding an order for one event. */
export async function listAttendees(
  db: Kysely<Database>,
  scope: DataScope,
  page: { limit: number; after: AttendeeCursor | undefined; event: TenantKey | undefined },
): Promise<AttendeeRow[]> {
  // Objecting, or not consenting for the purpose, leaves a person out of list reads entirely.
  let query = selectAttendees(db, scope).where('v.listed', '=', true);
  if (page.event !== undefined) query = query.where(attendsEvent(page.event));
  if (page.after !== undefined) query = query.where(afterAttendee(page.after));
  return query.orderBy('v.tenant_id').orderBy('v.id').limit(page.limit).execute();
}

export async function findAttendee(db: Kysely<Database>, scope: DataScope, id: string): Promise<AttendeeRow | undefined> {
  return selectAttendees(db, scope).where('v.id', '=', id).executeTakeFirst();
}

export async function attendeesByKeys(db: Kysely<Database>, scope: DataScope, keys: readonly TenantKey[]): Promise<AttendeeRow[]> {
  return selectAttendees(db, scope).where(keyIn('v.tenant_id', 'v.id', keys, 'uuid')).execute();
}

/** The attendee rows of many people (each person as every tenant in scope knows them). */
export async function attendeesOfPeople(db: Kysely<Database>, scope: DataScope, personIds: readonly string[]): Promise<AttendeeRow[]> {
  if (personIds.length === 0) return [];
  return selectAttendees(db, scope).where(sql<boolean>`v.person_id = any(${[...personIds]}::text[])`).orderBy('v.tenant_id').execute();
}
