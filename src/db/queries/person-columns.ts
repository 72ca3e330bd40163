import { sql, type AliasedRawBuilder, type RawBuilder } from 'kysely';
import { PERSON_MASKABLE_FIELDS, type ConsentRule, type ConsentStateName, type MaskReason, type PersonMaskableField } from '../../policy/policy.js';

/** What the platform holds about a person, as this request may see it (masked values are null). */
export interface PersonFields {
  personId: string | null;
  name: string | null;
  email: string | null;
  phone: string | null;
  billingLine1: string | null;
  billingCity: string | null;
  billingRegion: string | null;
  billingPostalCode: string | null;
  billingCountry: string | null;
  ageRange: string | null;
  residency: string | null;
  consentMarketing: boolean | null;
  consentEnrichment: boolean | null;
  consentDoNotSell: boolean | null;
  consentRestricted: boolean | null;
  consentObjection: boolean | null;
  consentUpdatedAt: Date | null;
  company: string | null;
  jobTitle: string | null;
  industry: string | null;
  webPresence: string | null;
  /** Each field masked for this person by a consent state, with the reason (computed in SQL). */
  consentMasks: Partial<Record<PersonMaskableField, MaskReason>>;
}

/**
 * Each state as SQL over a query that joins people as `p` and consents as `c`. An erased person
 * has no people row any more (and no consent row); for a living person a missing consent row
 * reads as the most protective choice. Erasure must not read as restriction or objection: the
 * erased person's orders stay readable and counted.
 */
const STATE_CONDITIONS: Record<ConsentStateName, RawBuilder<boolean>> = {
  erased: sql<boolean>`(p.id is null)`,
  restricted: sql<boolean>`(p.id is not null and coalesce(c.restricted, true))`,
  objection: sql<boolean>`(p.id is not null and coalesce(c.objection, true))`,
  noMarketingConsent: sql<boolean>`not coalesce(c.marketing, false)`,
  doNotSell: sql<boolean>`coalesce(c.do_not_sell, true)`,
  enrichmentOptOut: sql<boolean>`not coalesce(c.enrichment, false)`,
};

/** The columns behind each maskable field (collections have none: their loaders are skipped). */
const FIELD_COLUMNS: Partial<Record<PersonMaskableField, readonly (readonly [column: string, alias: keyof PersonFields])[]>> = {
  name: [['p.name', 'name']],
  email: [['p.email', 'email']],
  phone: [['p.phone', 'phone']],
  billingAddress: [
    ['p.billing_line1', 'billingLine1'],
    ['p.billing_city', 'billingCity'],
    ['p.billing_region', 'billingRegion'],
    ['p.billing_postal_code', 'billingPostalCode'],
    ['p.billing_country', 'billingCountry'],
  ],
  ageRange: [['p.age_range', 'ageRange']],
  residency: [['p.residency', 'residency']],
  company: [['en.company', 'company']],
  jobTitle: [['en.job_title', 'jobTitle']],
  industry: [['en.industry', 'industry']],
  webPresence: [['en.web_presence', 'webPresence']],
  consent: [
    ['c.marketing', 'consentMarketing'],
    ['c.enrichment', 'consentEnrichment'],
    ['c.do_not_sell', 'consentDoNotSell'],
    ['c.restricted', 'consentRestricted'],
    ['c.objection', 'consentObjection'],
    ['c.updated_at', 'consentUpdatedAt'],
  ],
};

/**
 * The person columns for one purpose's consent rules, masked inside the SQL that reads them: a
 * masked value never leaves the database, and the reasons come back in the same row. For a query
 * joining people `p`, consents `c` and enrichments `en`.
 */
export function personColumns(rules: readonly ConsentRule[]) {
  const rulesFor = (field: PersonMaskableField) => rules.filter((rule) => rule.fields.includes(field));
  const columns: AliasedRawBuilder<unknown, string>[] = [];
  for (const [field, mapping] of Object.entries(FIELD_COLUMNS) as [PersonMaskableField, (typeof FIELD_COLUMNS)[PersonMaskableField]][]) {
    const masking = rulesFor(field);
    for (const [column, alias] of mapping ?? []) {
      columns.push(
        masking.length === 0
          ? sql`${sql.ref(column)}`.as(alias)
          : sql`case when ${inAnyState(masking)} then null else ${sql.ref(column)} end`.as(alias),
      );
    }
  }
  const reasons = PERSON_MASKABLE_FIELDS.flatMap((field) => {
    const masking = rulesFor(field);
    if (masking.length === 0) return [];
    const reason = sql`case ${sql.join(masking.map((r) => sql`when ${STATE_CONDITIONS[r.state]} then ${sql.lit(r.reason)}`), sql` `)} end`;
    return [sql`${sql.lit(field)}, ${reason}`];
  });
  columns.push(
    (reasons.length === 0 ? sql`'{}'::jsonb` : sql`jsonb_strip_nulls(jsonb_build_object(${sql.join(reasons)}))`).as('consentMasks'),
  );
  return columns;
}

/** People in any of these rules' states (false when there are none). */
function inAnyState(rules: readonly ConsentRule[]): RawBuilder<boolean> {
  return rules.length === 0 ? sql<boolean>`false` : sql<boolean>`(${sql.join(rules.map((r) => STATE_CONDITIONS[r.state]), sql` or `)})`;
}

/** People these rules leave out of list reads (objection, no marketing consent, ...) for the purpose. */
export function leftOutOfLists(rules: readonly ConsentRule[]): RawBuilder<boolean> {
  return inAnyState(rules.filter((rule) => rule.leftOutOfLists));
}

/** People these rules leave out of aggregates; erasure keeps transactions counted. */
export function leftOutOfAggregates(rules: readonly ConsentRule[], personalDimension: boolean): RawBuilder<boolean> {
  return inAnyState(rules.filter((rule) => rule.leftOutOfAggregates || (personalDimension && rule.state === 'erased')));
}

/** People for whom any of these rules masks a field (the marketing audience leaves them out). */
export function maskedFor(rules: readonly ConsentRule[], field: PersonMaskableField): RawBuilder<boolean> {
  return inAnyState(rules.filter((rule) => rule.fields.includes(field)));
}
