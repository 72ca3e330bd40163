import { sql, type Kysely } from 'kysely';
import type { DataScope } from '../request-scope.js';
import type { Database } from '../tables.js';
import type { ConsentRule } from '../../policy/policy.js';
import { leftOutOfLists, personColumns, type PersonFields } from './person-columns.js';
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

/** Which consent rules apply: the declared purpose's, decided once per request. */
export interface PersonReadOptions {
  rules: readonly ConsentRule[];
}

function selectAttendees(db: Kysely<Database>, scope: DataScope, options: PersonReadOptions) {
  return db
    .selectFrom('attendees as a')
    .leftJoin('people as p', 'p.id', 'a.person_id')
    .leftJoin('consents as c', 'c.person_id', 'a.person_id')
    .leftJoin('enrichments as en', 'en.person_id', 'a.person_id')
    .select(['a.tenant_id as tenantId', 'a.id as id', 'a.person_id as personId'])
    .select(personColumns(options.rules))
    .where(scopedToTenant(scope, 'a.tenant_id'))
    .$castTo<AttendeeRow>();
}

/** A page of attendees, all of the scope's or those holding an order for one event. */
export async function listAttendees(
  db: Kysely<Database>,
  scope: DataScope,
  page: { limit: number; after: AttendeeCursor | undefined; event: TenantKey | undefined },
  options: PersonReadOptions,
): Promise<AttendeeRow[]> {
  // Objecting, or not consenting for the purpose, leaves a person out of list reads entirely.
  let query = selectAttendees(db, scope, options).where(sql<boolean>`not ${leftOutOfLists(options.rules)}`);
  if (page.event !== undefined) query = query.where(attendsEvent(page.event));
  if (page.after !== undefined) query = query.where(afterAttendee(page.after));
  return query.orderBy('a.tenant_id').orderBy('a.id').limit(page.limit).execute();
}

export async function findAttendee(
  db: Kysely<Database>,
  scope: DataScope,
  id: string,
  options: PersonReadOptions,
): Promise<AttendeeRow | undefined> {
  return selectAttendees(db, scope, options).where('a.id', '=', id).executeTakeFirst();
}

export async function attendeesByKeys(
  db: Kysely<Database>,
  scope: DataScope,
  keys: readonly TenantKey[],
  options: PersonReadOptions,
): Promise<AttendeeRow[]> {
  return selectAttendees(db, scope, options).where(keyIn('a.tenant_id', 'a.id', keys)).execute();
}

/** The attendee rows of many people (each person as every tenant in scope knows them). */
export async function attendeesOfPeople(
  db: Kysely<Database>,
  scope: DataScope,
  personIds: readonly string[],
  options: PersonReadOptions,
): Promise<AttendeeRow[]> {
  if (personIds.length === 0) return [];
  return selectAttendees(db, scope, options).where('a.person_id', 'in', personIds).orderBy('a.tenant_id').execute();
}
