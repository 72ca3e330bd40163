import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const ACCESS_LEVELS = ['full', 'partial', 'hash', 'agg'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
export const ROLE_SCOPES = ['tenant', 'platform', 'person'] as const;
export type RoleScope = (typeof ROLE_SCOPES)[number];

/** A person's states that change what is read about them; their SQL conditions live in db/. */
export const CONSENT_STATES = ['erased', 'restricted', 'objection', 'noMarketingConsent', 'doNotSell', 'enrichmentOptOut'] as const;
export type ConsentStateName = (typeof CONSENT_STATES)[number];
export const MASK_REASONS = [
  'PARTIAL',
  'ENRICHMENT_OPT_OUT',
  'NO_MARKETING_CONSENT',
  'DO_NOT_SELL',
  'PROCESSING_RESTRICTED',
  'OBJECTION',
  'ERASED',
  // A consent-derived reason, reported to a purpose that may not learn a person's consent state.
  'WITHHELD',
] as const;
export type MaskReason = (typeof MASK_REASONS)[number];

/** The fields of a person that consent masking names (on Attendee and DataSubject alike). */
export const PERSON_MASKABLE_FIELDS = [
  'name',
  'email',
  'phone',
  'billingAddress',
  'ageRange',
  'residency',
  'company',
  'jobTitle',
  'industry',
  'webPresence',
  'consent',
  'orders',
  'relationships',
  'devices',
  'usage',
  'supportCases',
] as const;
export type PersonMaskableField = (typeof PERSON_MASKABLE_FIELDS)[number];

const name = z.string().regex(/^[a-z][a-z0-9_.-]*$/i, 'must be a plain identifier');

const policyDocumentSchema = z.strictObject({
  purposes: z.record(name, z.string()),
  roles: z.record(
    name,
    z.strictObject({ scope: z.enum(ROLE_SCOPES), purposes: z.array(z.string()).min(1) }),
  ),
  categories: z.record(
    name,
    z.strictObject({
      description: z.string().optional(),
      access: z.union([z.literal('all'), z.record(z.string(), z.enum(ACCESS_LEVELS))]),
    }),
  ),
  types: z.record(
    name,
    z.strictObject({
      personal: z.boolean().optional(),
      default: z.string().optional(),
      fields: z.record(z.string(), z.string()).optional(),
    }),
  ),
  aggregates: z
    .strictObject({
      minimumGroupSize: z.number().int().min(2),
      dimensions: z.record(z.string().regex(/^[A-Z_]+$/), z.string()),
    })
    .optional(),
  consent: z
    .array(
      z.strictObject({
        state: z.enum(CONSENT_STATES),
        reason: z.enum(MASK_REASONS),
        masks: z.union([z.literal('all'), z.array(z.enum(PERSON_MASKABLE_FIELDS)).min(1)]),
        purposes: z.union([z.literal('all'), z.array(z.string())]).optional(),
        exceptPurposes: z.array(z.string()).optional(),
        keepsTransactions: z.boolean().optional(),
        leftOutOfLists: z.boolean().optional(),
        leftOutOfAggregates: z.boolean().optional(),
      }),
    )
    .default([]),
});

export interface RolePolicy {
  readonly scope: RoleScope;
  readonly purposes: readonly string[];
}

/** One person state's effect, as the policy states it. */
export interface ConsentRule {
  readonly state: ConsentStateName;
  readonly reason: MaskReason;
  /** The fields it masks; every personal field for `all`. */
  readonly fields: readonly PersonMaskableField[];
  readonly purposes: ReadonlySet<string>;
  readonly keepsTransactions: boolean;
  readonly leftOutOfLists: boolean;
  readonly leftOutOfAggregates: boolean;
}

export interface TypePolicy {
  readonly personal: boolean;
  readonly defaultCategory: string | undefined;
  readonly fields: ReadonlyMap<string, string>;
}

/** The policy as loaded from schema/policy.yaml: data, checked for internal consistency. */
export interface Policy {
  readonly purposes: ReadonlyMap<string, string>;
  readonly roles: ReadonlyMap<string, RolePolicy>;
  /** category → purpose → level; a missing purpose is "not readable". */
  readonly categories: ReadonlyMap<string, ReadonlyMap<string, AccessLevel>>;
  readonly types: ReadonlyMap<string, TypePolicy>;
  /** In precedence order. */
  readonly consent: readonly ConsentRule[];
  readonly aggregates: { readonly minimumGroupSize: number; readonly dimensions: ReadonlyMap<string, string> };
}

export class PolicyError extends Error {
  readonly code = 'POLICY_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`The access policy is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * Categories with a partial rule (custodian_reveal in migration 0005: email keeps its first
 * character and domain, phone its last 4 digits); `partial` on any other category is refused.
 */
export const PARTIAL_CATEGORIES: ReadonlySet<string> = new Set(['user.contact.email', 'user.contact.phone']);

export function loadPolicyFile(file: string): Policy {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new PolicyError([`cannot read ${file}`]);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new PolicyError([`${file} is not valid YAML: ${(error as Error).message}`]);
  }
  return buildPolicy(document);
}

export function buildPolicy(document: unknown): Policy {
  const parsed = policyDocumentSchema.safeParse(document);
  if (!parsed.success) {
    throw new PolicyError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  const doc = parsed.data;
  const problems: string[] = [];
  const purposes = new Map(Object.entries(doc.purposes));

  const roles = new Map<string, RolePolicy>();
  for (const [role, spec] of Object.entries(doc.roles)) {
    for (const purpose of spec.purposes) {
      if (!purposes.has(purpose)) problems.push(`role ${role} is given the undeclared purpose "${purpose}"`);
    }
    roles.set(role, { scope: spec.scope, purposes: [...spec.purposes] });
  }

  const categories = new Map<string, ReadonlyMap<string, AccessLevel>>();
  for (const [category, spec] of Object.entries(doc.categories)) {
    const access = new Map<string, AccessLevel>();
    if (spec.access === 'all') {
      for (const purpose of purposes.keys()) access.set(purpose, 'full');
    } else {
      for (const [purpose, level] of Object.entries(spec.access)) {
        if (!purposes.has(purpose)) problems.push(`category ${category} names the undeclared purpose "${purpose}"`);
        if (level === 'partial' && !PARTIAL_CATEGORIES.has(category)) {
          problems.push(`category ${category} is "partial" for ${purpose}, but has no partial mask rule`);
        }
        access.set(purpose, level);
      }
    }
    categories.set(category, access);
  }

  const types = new Map<string, TypePolicy>();
  for (const [type, spec] of Object.entries(doc.types)) {
    const personal = spec.personal ?? false;
    if (personal && spec.default !== undefined) {
      problems.push(`personal type ${type} may not have a default category: classify each field`);
    }
    if (!personal && spec.default === undefined) {
      problems.push(`type ${type} is not personal and needs a default category`);
    }
    for (const category of [spec.default, ...Object.values(spec.fields ?? {})]) {
      if (category !== undefined && !categories.has(category)) {
        problems.push(`type ${type} uses the undeclared category "${category}"`);
      }
    }
    types.set(type, { personal, defaultCategory: spec.default, fields: new Map(Object.entries(spec.fields ?? {})) });
  }

  const consent: ConsentRule[] = [];
  for (const [index, rule] of doc.consent.entries()) {
    const named = [...(rule.purposes === 'all' ? [] : (rule.purposes ?? [])), ...(rule.exceptPurposes ?? [])];
    for (const purpose of named) {
      if (!purposes.has(purpose)) problems.push(`consent rule ${index} (${rule.state}) names the undeclared purpose "${purpose}"`);
    }
    if ((rule.purposes === undefined) === (rule.exceptPurposes === undefined)) {
      problems.push(`consent rule ${index} (${rule.state}) needs exactly one of purposes or exceptPurposes`);
    }
    const applies =
      rule.exceptPurposes !== undefined
        ? [...purposes.keys()].filter((p) => !rule.exceptPurposes!.includes(p))
        : rule.purposes === 'all'
          ? [...purposes.keys()]
          : (rule.purposes ?? []);
    const fields = rule.masks === 'all' ? PERSON_MASKABLE_FIELDS.filter((f) => !(rule.keepsTransactions && f === 'orders')) : rule.masks;
    consent.push({
      state: rule.state,
      reason: rule.reason,
      fields,
      purposes: new Set(applies),
      keepsTransactions: rule.keepsTransactions ?? false,
      leftOutOfLists: rule.leftOutOfLists ?? false,
      leftOutOfAggregates: (rule.leftOutOfAggregates ?? false) || (rule.leftOutOfLists ?? false),
    });
  }
  const states = consent.map((rule) => rule.state);
  for (const state of CONSENT_STATES) {
    if (!states.includes(state)) problems.push(`the consent section does not say what the state "${state}" does`);
  }

  const dimensions = new Map(Object.entries(doc.aggregates?.dimensions ?? {}));
  for (const [dimension, category] of dimensions) {
    if (!categories.has(category)) problems.push(`aggregate dimension ${dimension} uses the undeclared category "${category}"`);
  }
  const aggregates = { minimumGroupSize: doc.aggregates?.minimumGroupSize ?? 5, dimensions };

  if (problems.length > 0) throw new PolicyError(problems);
  return { purposes, roles, categories, types, consent, aggregates };
}

/** The category a field belongs to, or undefined when the policy leaves it unclassified. */
export function categoryOf(policy: Policy, type: string, field: string): string | undefined {
  const spec = policy.types.get(type);
  return spec?.fields.get(field) ?? spec?.defaultCategory;
}

/** How a purpose may read a category; undefined means not at all. */
export function accessLevel(policy: Policy, purpose: string, category: string): AccessLevel | undefined {
  return policy.categories.get(category)?.get(purpose);
}
