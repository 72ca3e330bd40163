/** What the platform holds about a person, as read alongside an attendee or on its own. */
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
}

/**
 * The person columns, for a query that joins people as `p`, consents as `c` and enrichments as
 * `en`; one list so that attendee and data-subject reads cannot drift apart.
 */
export const PERSON_COLUMNS = [
  'p.name as name',
  'p.email as email',
  'p.phone as phone',
  'p.billing_line1 as billingLine1',
  'p.billing_city as billingCity',
  'p.billing_region as billingRegion',
  'p.billing_postal_code as billingPostalCode',
  'p.billing_country as billingCountry',
  'p.age_range as ageRange',
  'p.residency as residency',
  'c.marketing as consentMarketing',
  'c.enrichment as consentEnrichment',
  'c.do_not_sell as consentDoNotSell',
  'c.restricted as consentRestricted',
  'c.objection as consentObjection',
  'c.updated_at as consentUpdatedAt',
  'en.company as company',
  'en.job_title as jobTitle',
  'en.industry as industry',
  'en.web_presence as webPresence',
] as const;
