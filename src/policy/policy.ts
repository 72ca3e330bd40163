import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const ACCESS_LEVELS = ['full', 'partial', 'hash', 'agg'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];
export const ROLE_SCOPES = ['tenant', 'platform', 'person'] as const;
export type RoleScope = (typeof ROLE_SCOPES)[number];

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
});

export interface RolePolicy {
  readonly scope: RoleScope;
  readonly purposes: readonly string[];
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
}

export class PolicyError extends Error {
  readonly code = 'POLICY_INVALID';
  constructor(readonly problems: readonly string[]) {
    super(`The access policy is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Categories with a partial rule (see masks.ts); `partial` on any other category is refused. */
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

  if (problems.length > 0) throw new PolicyError(problems);
  return { purposes, roles, categories, types };
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
