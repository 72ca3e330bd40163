import { AbilityBuilder, createMongoAbility, type MongoAbility } from '@casl/ability';
import { accessLevel, categoryOf, type Policy } from './policy.js';

/** What a caller may do: read a GraphQL type, optionally one of its fields. */
export type PolicyAbility = MongoAbility<['read', string]>;

/**
 * The level a field is read at when it is not read in full. The masking itself happens in the
 * database (custodian_reveal, migration 0005); the gateway only names it (`masked { reason:
 * PARTIAL }`, the access log's `:PARTIAL` and `:HASH`).
 */
export interface FieldMask {
  readonly level: 'partial' | 'hash';
}

/**
 * Everything the policy decides for one role and purpose, computed once and reused for every
 * request with the same pair: per row, a resolver only looks a mask up in a map.
 */
export interface AccessDecision {
  readonly role: string;
  readonly purpose: string;
  readonly ability: PolicyAbility;
  /** `Type.field` → the level it is masked at; absent means it is read in full. */
  readonly masks: ReadonlyMap<string, FieldMask>;
  canRead(type: string, field: string): boolean;
  /** Whether this purpose may count people by an aggregate dimension (its category is `agg` or `full`). */
  canAggregate(dimension: string): boolean;
  /** The category an aggregate dimension counts people by. */
  aggregateCategory(dimension: string): string | undefined;
  /** The data category of a field, for the access log's exposure record. */
  categoryOf(type: string, field: string): string | undefined;
  /** Whether the policy classifies this field or `field(argument)` on its own. */
  classifies(type: string, key: string): boolean;
}

function readsPerPerson(level: string | undefined): level is 'full' | 'partial' | 'hash' {
  return level === 'full' || level === 'partial' || level === 'hash';
}

/**
 * CASL abilities from policy + role + purpose. A field is readable per person when its category
 * is `full`, `partial` or `hash` for the purpose; `agg` and absent are not. A type the policy does
 * not know, or a personal field it leaves unclassified, gets no rule, and CASL denies by default.
 */
export function decideAccess(policy: Policy, role: string, purpose: string): AccessDecision {
  const { can, cannot, build } = new AbilityBuilder<PolicyAbility>(createMongoAbility);
  const masks = new Map<string, FieldMask>();
  for (const [type, spec] of policy.types) {
    const readable: string[] = [];
    const unreadable: string[] = [];
    for (const field of spec.fields.keys()) {
      const category = categoryOf(policy, type, field)!;
      const level = accessLevel(policy, purpose, category);
      if (readsPerPerson(level)) {
        readable.push(field);
        if (level !== 'full') masks.set(`${type}.${field}`, { level });
      } else {
        unreadable.push(field);
      }
    }
    const defaultLevel = spec.defaultCategory === undefined ? undefined : accessLevel(policy, purpose, spec.defaultCategory);
    if (readsPerPerson(defaultLevel)) {
      // A non-personal type: every field by default, less the ones classified on their own.
      can('read', type);
      if (unreadable.length > 0) cannot('read', type, unreadable);
    } else if (readable.length > 0) {
      can('read', type, readable);
    }
  }
  const ability = build();
  return {
    role,
    purpose,
    ability,
    masks,
    canAggregate: (dimension) => {
      const category = policy.aggregates.dimensions.get(dimension);
      const level = category === undefined ? undefined : accessLevel(policy, purpose, category);
      return level === 'agg' || level === 'full';
    },
    aggregateCategory: (dimension) => policy.aggregates.dimensions.get(dimension),
    canRead: (type, field) => ability.can('read', type, field),
    classifies: (type, key) => policy.types.get(type)?.fields.has(key) ?? false,
    categoryOf: (type, field) => categoryOf(policy, type, field),
  };
}

/** One decision per (role, purpose) pair for the lifetime of a policy. */
export function createDecisionCache(policy: Policy): (role: string, purpose: string) => AccessDecision {
  const cache = new Map<string, AccessDecision>();
  return (role, purpose) => {
    const key = `${role}\u0000${purpose}`;
    let decision = cache.get(key);
    if (decision === undefined) {
      decision = decideAccess(policy, role, purpose);
      cache.set(key, decision);
    }
    return decision;
  };
}
