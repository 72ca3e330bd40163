import { sql, type Kysely } from 'kysely';
import type { DataScope } from '../request-scope.js';
import type { Database } from '../tables.js';
import type { PersonReadOptions } from './attendees.js';
import { leftOutOfAggregates, maskedFor } from './person-columns.js';
import { afterAttendee, attendsEvent } from './attendee-filters.js';
import { scopedToTenant, type TenantKey } from './tenant-key.js';

export interface MarketingMemberRow {
  tenantId: string;
  attendeeId: string;
  /** For the access log only: never returned to the caller. */
  personId: string;
  emailSha256: string;
}

/**
 * The marketing audience: SHA-256 of the trimmed, lower-cased email, computed in the database so
 * no email leaves it, for exactly the people whose email the purpose's consent rules leave
 * unmasked (marketing consent, not do-not-sell, not objecting, not restricted, not erased).
 */
export async function marketingAudience(
  db: Kysely<Database>,
  scope: DataScope,
  page: { limit: number; after: readonly [string, string] | undefined; event: TenantKey | undefined },
  options: PersonReadOptions,
): Promise<MarketingMemberRow[]> {
  let query = db
    .selectFrom('attendees as a')
    .innerJoin('people as p', 'p.id', 'a.person_id')
    .leftJoin('consents as c', 'c.person_id', 'a.person_id')
    .select([
      'a.tenant_id as tenantId',
      'a.id as attendeeId',
      'p.id as personId',
      sql<string>`encode(sha256(convert_to(lower(btrim(p.email)), 'UTF8')), 'hex')`.as('emailSha256'),
    ])
    .where(scopedToTenant(scope, 'a.tenant_id'))
    .where('p.email', 'is not', null)
    .where(sql<boolean>`not ${maskedFor(options.rules, 'email')}`);
  if (page.event !== undefined) query = query.where(attendsEvent(page.event));
  if (page.after !== undefined) query = query.where(afterAttendee(page.after));
  return query.orderBy('a.tenant_id').orderBy('a.id').limit(page.limit).execute();
}

export type AudienceDimension = 'AGE_RANGE' | 'COUNTRY' | 'TICKET_TYPE';

const DIMENSION_VALUE = {
  AGE_RANGE: sql<string>`p.age_range`,
  // Residency is COUNTRY[-REGION] (US-CA, GB), or EU-COUNTRY for EU residents (EU-DE).
  COUNTRY: sql<string>`case when p.residency like 'EU-%' then split_part(p.residency, '-', 2) else split_part(p.residency, '-', 1) end`,
  TICKET_TYPE: sql<string>`t.type`,
} as const;

/**
 * People per value of a dimension, counted once each (a person known to two tenants is one
 * person; an erased person's attendee rows count once each, as nobody can join them up). People the purpose's consent rules leave
 * out of aggregates (objection, restriction) are not counted; an erased person's orders still
 * count by ticket type, but nothing about the person does.
 */
export async function audienceCounts(
  db: Kysely<Database>,
  scope: DataScope,
  dimension: AudienceDimension,
  event: TenantKey | undefined,
  options: PersonReadOptions,
): Promise<{ value: string; people: number }[]> {
  const value = DIMENSION_VALUE[dimension];
  const rows = await sql<{ value: string; people: string | number }>`
    select ${value} as value, count(distinct coalesce(a.person_id, a.tenant_id || '/' || a.id::text)) as people
    from attendees a
    left join people p on p.id = a.person_id
    left join consents c on c.person_id = a.person_id
    ${dimension === 'TICKET_TYPE' ? sql`join orders o on o.tenant_id = a.tenant_id and o.attendee_id = a.id
      join tickets t on t.tenant_id = o.tenant_id and t.order_id = o.id` : sql``}
    where ${scopedToTenant(scope, 'a.tenant_id')}
      and not ${leftOutOfAggregates(options.rules, dimension !== 'TICKET_TYPE')}
      and ${value} is not null
      ${event === undefined ? sql`` : sql`and ${attendsEvent(event)}`}
    group by 1
    order by 1`.execute(db);
  return rows.rows.map((row) => ({ value: row.value, people: Number(row.people) }));
}
