import { sql, type Kysely } from 'kysely';
import type { Database } from '../tables.js';
import { PERSON_VIEW_COLUMNS, type PersonFields } from './person-columns.js';

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
 * person sees only themself, the platform scope everyone, a tenant only its attendees); what of
 * them it may see is the masking view's.
 */
export async function findPerson(db: Kysely<Database>, personId: string): Promise<PersonRow | undefined> {
  return db
    .selectFrom('masked.people as v')
    .select(['v.person_id as personId', 'v.created_at as createdAt', 'v.last_active_at as lastActiveAt', ...PERSON_VIEW_COLUMNS])
    .where('v.person_id', '=', personId)
    .$castTo<PersonRow>()
    .executeTakeFirst();
}

const among = (personIds: readonly string[]) => sql<boolean>`person_id = any(${[...personIds]}::text[])`;

export async function devicesOfPeople(db: Kysely<Database>, personIds: readonly string[]): Promise<DeviceRow[]> {
  return db
    .selectFrom('masked.devices')
    .select(['person_id as personId', 'ip', 'user_agent as userAgent'])
    .where(among(personIds))
    .orderBy('ip')
    .execute();
}

export async function usageOfPeople(db: Kysely<Database>, personIds: readonly string[]): Promise<UsageEventRow[]> {
  return db
    .selectFrom('masked.usage_events')
    .select(['person_id as personId', 'at', 'page', 'feature'])
    .where(among(personIds))
    .orderBy('at')
    .execute();
}

export async function supportCasesOfPeople(db: Kysely<Database>, personIds: readonly string[]): Promise<SupportCaseRow[]> {
  return db
    .selectFrom('masked.support_cases')
    .select(['person_id as personId', 'id', 'opened_at as openedAt', 'resolved_at as resolvedAt', 'subject', 'body'])
    .where(among(personIds))
    .orderBy('opened_at')
    .execute();
}
