import type { Kysely } from 'kysely';
import type { Database } from '../tables.js';
import type { PersonReadOptions } from './attendees.js';
import { personColumns, type PersonFields } from './person-columns.js';

/** A person as the platform holds them: the data subject of `me` and `dataSubject`. */
export interface PersonRow extends PersonFields {
  personId: string;
  createdAt: Date;
  lastActiveAt: Date | null;
}

export interface DeviceRow {
  personId: string;
  ip: string;
  userAgent: string;
}

export interface UsageEventRow {
  personId: string;
  at: Date;
  page: string;
  feature: string;
}

export interface SupportCaseRow {
  personId: string;
  id: string;
  openedAt: Date;
  resolvedAt: Date | null;
  subject: string;
  body: string;
}

/**
 * People are not tenant-owned: which of them a caller may see is the database's RLS decision (a
 * person sees only themself, the platform scope everyone, a tenant only its attendees).
 */
export async function findPerson(db: Kysely<Database>, personId: string, options: PersonReadOptions): Promise<PersonRow | undefined> {
  return db
    .selectFrom('people as p')
    .leftJoin('consents as c', 'c.person_id', 'p.id')
    .leftJoin('enrichments as en', 'en.person_id', 'p.id')
    .select([
      'p.id as personId',
      'p.created_at as createdAt',
      'p.last_active_at as lastActiveAt',
    ])
    .select(personColumns(options.rules))
    .where('p.id', '=', personId)
    .$castTo<PersonRow>()
    .executeTakeFirst();
}

export async function devicesOfPeople(db: Kysely<Database>, personIds: readonly string[]): Promise<DeviceRow[]> {
  return db
    .selectFrom('devices')
    .select(['person_id as personId', 'ip', 'user_agent as userAgent'])
    .where('person_id', 'in', [...personIds])
    .orderBy('ip')
    .execute();
}

export async function usageOfPeople(db: Kysely<Database>, personIds: readonly string[]): Promise<UsageEventRow[]> {
  return db
    .selectFrom('usage_events')
    .select(['person_id as personId', 'at', 'page', 'feature'])
    .where('person_id', 'in', [...personIds])
    .orderBy('at')
    .execute();
}

export async function supportCasesOfPeople(db: Kysely<Database>, personIds: readonly string[]): Promise<SupportCaseRow[]> {
  return db
    .selectFrom('support_cases')
    .select(['person_id as personId', 'id', 'opened_at as openedAt', 'resolved_at as resolvedAt', 'subject', 'body'])
    .where('person_id', 'in', [...personIds])
    .orderBy('opened_at')
    .execute();
}
