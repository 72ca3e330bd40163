import { sql, type Kysely } from 'kysely';
import type { DataScope } from '../request-scope.js';
import type { Database } from '../tables.js';
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
 * The marketing audience: for the marketing purpose the masking view gives each email as the
 * SHA-256 of its trimmed, lower-cased form (no email leaves the database), and null for everyone
 * a state masks (no marketing consent, do-not-sell, objection, restriction, erasure); the list
 * leaves out whoever the purpose's rules leave out of lists.
 */
export async function marketingAudience(
  db: Kysely<Database>,
  scope: DataScope,
  page: { limit: number; after: readonly [string, string] | undefined; event: TenantKey | undefined },
): Promise<MarketingMemberRow[]> {
  let query = db
    .selectFrom('masked.attendees as v')
    .select(['v.tenant_id as tenantId', 'v.id as attendeeId', 'v.person_id as personId', 'v.email as emailSha256'])
    .where(scopedToTenant(scope, 'v.tenant_id'))
    .where('v.listed', '=', true)
    .where('v.person_id', 'is not', null)
    .where('v.email', 'is not', null);
  if (page.event !== undefined) query = query.where(attendsEvent(page.event));
  if (page.after !== undefined) query = query.where(afterAttendee(page.after));
  return query.orderBy('v.tenant_id').orderBy('v.id').limit(page.limit).$castTo<MarketingMemberRow>().execute();
}

export type AudienceDimension = 'AGE_RANGE' | 'COUNTRY' | 'TICKET_TYPE';

export interface AudienceBucketRow {
  value: string;
  /** Always at least the minimum group size: smaller buckets come back only inside SUPPRESSED. */
  people: number;
  suppressed: boolean;
}

/**
 * People per value of a dimension, counted and suppressed inside the database
 * (masked.audience_breakdown, migration 0005): no per-person value and no count under the minimum
 * group size ever leaves it, and hidden buckets come back as one SUPPRESSED bucket whose total is
 * 0 or at least the minimum.
 */
export async function audienceCounts(
  db: Kysely<Database>,
  dimension: AudienceDimension,
  event: TenantKey | undefined,
): Promise<AudienceBucketRow[]> {
  const rows = await sql<AudienceBucketRow>`select value, people, suppressed
    from masked.audience_breakdown(${dimension}, ${event?.tenantId ?? null}, ${event?.id ?? null})`.execute(db);
  return rows.rows.map((row) => ({ value: row.value, people: Number(row.people), suppressed: row.suppressed }));
}
