import { z } from 'zod';

/** The import format of CONTRACT.md; `../shared/fixtures/demo.json` is its example. */

const sourceId = z
  .string()
  .min(1)
  .max(200)
  .refine((value) => !/[\u0000-\u001f]/.test(value), 'must not contain control characters');
const text = (max: number) => z.string().max(max).refine((value) => !value.includes('\u0000'), 'must not contain NUL');
// PostgreSQL has no year 0 (and far-off years are typing mistakes): refuse them as a bad row, not at insert.
const timestamp = z.iso.datetime({ offset: true }).refine(
  (value) => {
    const year = Number(value.slice(0, 4));
    return year >= 1900 && year <= 2999;
  },
  { message: 'must be a time between the years 1900 and 2999', when: (payload) => payload.issues.length === 0 },
);

export const AGE_RANGES = ['13-17', '18-24', '25-34', '35-44', '45-54', '55-64', '65+'] as const;
export const UNDER_13 = 'under-13';

export const tenantRow = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes'),
  name: text(200).min(1),
});

export const eventRow = z.strictObject({
  id: sourceId,
  tenant: sourceId,
  name: text(300).min(1),
  venue: text(300).optional(),
  startsAt: timestamp,
});

export const personRow = z.strictObject({
  id: sourceId,
  name: text(300).min(1),
  email: z.email().max(320),
  phone: z
    .string()
    .regex(/^\+?[0-9][0-9 ()-]{3,24}$/, 'must be a phone number')
    .optional(),
  billingAddress: z
    .strictObject({
      line1: text(300),
      city: text(200),
      region: text(100).optional(),
      postalCode: text(40).optional(),
      country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166 alpha-2 code'),
    })
    .optional(),
  ageRange: z.enum(AGE_RANGES).optional(),
  residency: z.string().regex(/^[A-Z]{2}(-[A-Z0-9]{1,3})?$/, 'must look like US-CA, EU-DE or GB'),
  consent: z.strictObject({
    marketing: z.boolean(),
    enrichment: z.boolean(),
    doNotSell: z.boolean(),
    restricted: z.boolean(),
    objection: z.boolean(),
  }),
  enrichment: z
    .strictObject({
      source: text(100).min(1),
      company: text(300).optional(),
      jobTitle: text(300).optional(),
      industry: text(300).optional(),
      webPresence: text(2000).optional(),
    })
    .optional(),
  device: z.strictObject({ ip: z.union([z.ipv4(), z.ipv6()]), userAgent: text(1000) }).optional(),
  createdAt: timestamp,
  lastActiveAt: timestamp.optional(),
});

export const orderRow = z.strictObject({
  id: sourceId,
  tenant: sourceId,
  event: sourceId,
  person: sourceId,
  placedAt: timestamp,
  totalCents: z.number().int().min(0).max(2_000_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  status: text(50).min(1),
  paymentRef: text(200).optional(),
  tickets: z.array(
    z.strictObject({ id: sourceId, type: text(100).min(1), checkedInAt: timestamp.optional() }),
  ),
});

export const relationshipRow = z.strictObject({
  tenant: sourceId,
  from: sourceId,
  to: sourceId,
  kind: text(100).min(1),
});

export const usageEventRow = z.strictObject({
  person: sourceId,
  at: timestamp,
  page: text(2000),
  feature: text(200),
});

export const supportCaseRow = z.strictObject({
  id: sourceId,
  person: sourceId,
  openedAt: timestamp,
  resolvedAt: timestamp.optional(),
  subject: text(500),
  body: text(20_000),
});

export const SECTIONS = {
  tenants: tenantRow,
  events: eventRow,
  people: personRow,
  orders: orderRow,
  relationships: relationshipRow,
  usageEvents: usageEventRow,
  supportCases: supportCaseRow,
} as const;

export type Section = keyof typeof SECTIONS;

export interface ImportFile {
  tenants: z.infer<typeof tenantRow>[];
  events: z.infer<typeof eventRow>[];
  people: z.infer<typeof personRow>[];
  orders: z.infer<typeof orderRow>[];
  relationships: z.infer<typeof relationshipRow>[];
  usageEvents: z.infer<typeof usageEventRow>[];
  supportCases: z.infer<typeof supportCaseRow>[];
}
