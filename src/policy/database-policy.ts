import { createHash } from 'node:crypto';
import { accessLevel, categoryOf, CONSENT_STATES, PERSON_MASKABLE_FIELDS, type ConsentStateName, type MaskReason, type Policy } from './policy.js';

/** The category whose readability decides whether a purpose may learn a person's consent-derived reasons. */
export const CONSENT_CATEGORY = 'user.consent';

/**
 * What the database enforces for one purpose (the row of `access_policy`, see migration 0005):
 * the masking views read it for the transaction's `app.purpose`.
 */
export interface PurposeRow {
  purpose: string;
  /** category → per-person level; categories absent here are null in every view. */
  levels: Record<string, 'full' | 'partial' | 'hash'>;
  /** Whether it reads any personal category per person: an aggregate-only purpose sees no person rows. */
  readsPeople: boolean;
  /** Categories this purpose may count people by. */
  aggregable: string[];
  /** A person's states (comma-joined, in CONSENT_STATES order) → field → reason. */
  reasons: Record<string, Record<string, MaskReason>>;
  unlisted: ConsentStateName[];
  uncounted: ConsentStateName[];
  dimensions: Record<string, string>;
  minimumGroupSize: number;
}

export interface DatabasePolicy {
  rows: PurposeRow[];
  /** SHA-256 of the rows: the gateway refuses to serve when the database holds another. */
  hash: string;
}

/** Every combination of states, as the database spells it (custodian_person_states keeps this order). */
function stateCombinations(): ConsentStateName[][] {
  const combinations: ConsentStateName[][] = [];
  for (let mask = 0; mask < 1 << CONSENT_STATES.length; mask += 1) {
    combinations.push(CONSENT_STATES.filter((_, bit) => (mask & (1 << bit)) !== 0));
  }
  return combinations;
}

/**
 * The policy's per-purpose decisions as data for the database: the levels of POLICY.md's table,
 * and for each combination of a person's states, which field is masked and why (the first rule in
 * precedence order wins). A purpose that may not read consent learns no consent-derived reason:
 * every such reason is WITHHELD (POLICY.md, "Consent and opt-outs").
 */
export function databasePolicy(policy: Policy): DatabasePolicy {
  const combinations = stateCombinations();
  const rows: PurposeRow[] = [...policy.purposes.keys()].sort().map((purpose) => {
    const levels: PurposeRow['levels'] = {};
    const aggregable: string[] = [];
    for (const category of [...policy.categories.keys()].sort()) {
      const level = accessLevel(policy, purpose, category);
      if (level === 'full' || level === 'partial' || level === 'hash') levels[category] = level;
      if (level === 'agg' || level === 'full') aggregable.push(category);
    }
    const readsConsent = levels[CONSENT_CATEGORY] !== undefined;
    const rules = policy.consent.filter((rule) => rule.purposes.has(purpose));
    // A reason is only ever about a field the purpose reads: one it cannot read says nothing, and
    // a reason on it would tell the purpose about the person's state.
    const readable = PERSON_MASKABLE_FIELDS.filter((field) => {
      const category = categoryOf(policy, 'Attendee', field) ?? categoryOf(policy, 'DataSubject', field);
      return category !== undefined && levels[category] !== undefined;
    });
    const reasons: PurposeRow['reasons'] = {};
    for (const states of combinations) {
      const masked: Record<string, MaskReason> = {};
      for (const field of readable) {
        const rule = rules.find((r) => states.includes(r.state) && r.fields.includes(field));
        if (rule !== undefined) masked[field] = readsConsent ? rule.reason : 'WITHHELD';
      }
      if (Object.keys(masked).length > 0) reasons[states.join(',')] = masked;
    }
    // A state that masks a person whole must not be told apart by list membership: were a
    // restricted person listed unless they also objected (or withdrew consent), the list would
    // reveal the state their masks withhold. Where any state leaves people out of the purpose's
    // lists, so does every state that masks everything (POLICY.md: the stricter reading wins).
    const unlisted = new Set(rules.filter((r) => r.leftOutOfLists).map((r) => r.state));
    if (unlisted.size > 0) {
      for (const rule of rules) if (PERSON_MASKABLE_FIELDS.every((f) => rule.fields.includes(f) || f === 'orders') && rule.state !== 'erased') unlisted.add(rule.state);
    }
    return {
      purpose,
      levels,
      readsPeople: Object.keys(levels).some((category) => category.startsWith('user.')),
      aggregable,
      reasons,
      unlisted: CONSENT_STATES.filter((state) => unlisted.has(state)),
      uncounted: rules.filter((r) => r.leftOutOfAggregates).map((r) => r.state),
      dimensions: Object.fromEntries([...policy.aggregates.dimensions].sort(([a], [b]) => a.localeCompare(b))),
      minimumGroupSize: policy.aggregates.minimumGroupSize,
    };
  });
  return { rows, hash: createHash('sha256').update(JSON.stringify(rows), 'utf8').digest('hex') };
}
