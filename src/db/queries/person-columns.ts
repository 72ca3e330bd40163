import type { MaskReason, PersonMaskableField } from '../../policy/policy.js';

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
  /** Each field masked for this person by a state, with the reason, as the masking view reports it. */
  consentMasks: Partial<Record<PersonMaskableField, MaskReason>>;
}

/**
 * The person columns of a `masked.people` or `masked.attendees` view (aliased `v`), named as
 * PersonFields. Masking happened in the view: these are plain reads of what it let through.
 */
export const PERSON_VIEW_COLUMNS = [
  'v.name as name',
  'v.email as email',
  'v.phone as phone',
  'v.billing_line1 as billingLine1',
  'v.billing_city as billingCity',
  'v.billing_region as billingRegion',
  'v.billing_postal_code as billingPostalCode',
  'v.billing_country as billingCountry',
  'v.age_range as ageRange',
  'v.residency as residency',
  'v.company as company',
  'v.job_title as jobTitle',
  'v.industry as industry',
  'v.web_presence as webPresence',
  'v.consent_marketing as consentMarketing',
  'v.consent_enrichment as consentEnrichment',
  'v.consent_do_not_sell as consentDoNotSell',
  'v.consent_restricted as consentRestricted',
  'v.consent_objection as consentObjection',
  'v.consent_updated_at as consentUpdatedAt',
  'v.mask_reasons as consentMasks',
] as const;
