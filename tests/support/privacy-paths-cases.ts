import { getNamedType, isLeafType, isObjectType, type GraphQLSchema } from 'graphql';
import type { AccessDecision } from '../../src/policy/access-decision.js';
import type { Policy } from '../../src/policy/policy.js';
import { POLICY_MD_PURPOSES } from './policy-md.js';

/*
 * The privacy red-team suite's cases, generated from the schema and the policy: which Query fields
 * read people (and are exercised), which fields of personal types each purpose selects, and what
 * is deliberately left to other suites (with the reason). A new Query field, or a new field of a
 * personal type, that none of these names fails the coverage test.
 */

/** Query fields the suite exercises per consent state, with the path compared against the list. */
export const QUERY_PATHS: Record<string, string> = {
  attendees: 'the list path every other path is compared with (and its cursors)',
  attendee: 'by id: the same node as the list',
  order: 'by id: answered exactly for the orders the list shows nested, NOT_FOUND otherwise',
  me: "self-service: the person and their attendances, as the person's list shows them",
  dataSubject: 'legal-compliance: the person and their attendances, as the list shows them',
  marketingAudience: "marketing: a person's hash is there exactly when the marketing list shows their email",
  audienceBreakdown: 'aggregates: POLICY.md suppression, and who is counted, per state',
};

/** Query fields that read no person, or whose readers consent states do not apply to. */
export const QUERY_FIELDS_ELSEWHERE: Record<string, string> = {
  viewer: 'not person-linked: the caller as the gateway understood the token',
  events: 'not person-linked: a tenant\'s events',
  event: 'not person-linked: one event',
  dataSubjectRequests: 'request records (legal-compliance): the minimal legal record, kept after erasure; tests/data-subject-requests.test.ts',
  accessLog: 'the access log (security-audit, legal-compliance per person): tests/access-log.test.ts',
  breachScope: 'breach scoping (security-audit): tests/access-log.test.ts',
  legalHolds: 'legal holds (legal-compliance): tests/legal-holds.test.ts',
  retentionRuns: 'the record of retention runs (legal-compliance), no person in it: tests/retention.test.ts',
  incidents: 'breach incidents as counts (security-audit, legal-compliance): tests/breach-response.test.ts',
  incident: 'one breach incident; its notifications are the privacy officer\'s: tests/breach-response.test.ts',
};

/** Fields of personal types left out of the generated selections, with the reason. */
export const FIELDS_ELSEWHERE: Record<string, string> = {
  'DataSubject.export': 'writes an ACCESS request on every read; its content is tests/data-subject-requests.test.ts',
  'DataSubject.requests': 'request records: tests/data-subject-requests.test.ts',
  'DataSubject.accessHistory': "a person's view of the access log: tests/access-log.test.ts",
};

/** Personal types no per-person consent state applies to (the log and the legal record). */
export const TYPES_ELSEWHERE: Record<string, string> = {
  AccessLogEntry: 'the access log: tests/access-log.test.ts',
  BreachPerson: 'breach scoping: tests/access-log.test.ts',
  DataSubjectRequest: 'request records: tests/data-subject-requests.test.ts',
  LegalHold: 'legal holds, kept whatever the person\'s state: tests/legal-holds.test.ts',
  BreachNotification: 'breach notices to affected people (legal-compliance): tests/breach-response.test.ts',
};

export interface Selection {
  /** The selection set text, without the outer braces. */
  text: string;
  /** Every `Type.field` it selects. */
  covered: Set<string>;
}

/**
 * Every field of `typeName` the decision lets the purpose read, recursively. A type may be entered
 * a second time (Relationship.attendee is an Attendee inside an Attendee), but inside a repeated
 * type nothing already on the path is entered again, so every selection is finite.
 */
export function selectionFor(schema: GraphQLSchema, decision: AccessDecision, typeName: string, path: readonly string[] = []): Selection {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
  const covered = new Set<string>();
  const parts: string[] = [];
  const stack = [...path, typeName];
  const repeated = new Set(stack).size < stack.length;
  for (const field of Object.values(type.getFields()).sort((a, b) => a.name.localeCompare(b.name))) {
    const key = `${typeName}.${field.name}`;
    if (FIELDS_ELSEWHERE[key] !== undefined) continue;
    if (field.args.some((arg) => arg.type.toString().endsWith('!'))) continue;
    if (!decision.canRead(typeName, field.name)) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) {
      parts.push(field.name);
      covered.add(key);
      continue;
    }
    if (!isObjectType(named)) continue;
    const onPath = stack.filter((t) => t === named.name).length;
    if (onPath > 1 || (onPath === 1 && repeated)) continue;
    const inner = selectionFor(schema, decision, named.name, stack);
    if (inner.text === '') continue;
    parts.push(`${field.name} { ${inner.text} }`);
    covered.add(key);
    for (const k of inner.covered) covered.add(k);
  }
  return { text: parts.join(' '), covered };
}

/** The first role that may declare the purpose, as a token would name it. */
export function roleFor(policy: Policy, purpose: string): { role: string; scope: 'tenant' | 'platform' | 'person' } {
  for (const [role, spec] of policy.roles) if (spec.purposes.includes(purpose)) return { role, scope: spec.scope };
  throw new Error(`no role may declare ${purpose}`);
}

/**
 * POLICY.md "Need-to-know", transcribed from ../shared/spec/POLICY.md for the rows the masking views
 * carry as columns (`—` is absent). The suite checks schema/policy.yaml against it, and derives the
 * expected value of each view column from it.
 */
export { POLICY_MD_PURPOSES };
const POLICY_MD_ROWS = `
user.name             | full | full    | full | full | full | —   | —    | full    | full | full | —   | full | full
user.contact.email    | full | partial | full | full | full | —   | hash | full    | full | —    | —   | full | full
user.contact.phone    | —    | —       | —    | full | —    | —   | —    | partial | —    | —    | —   | full | full
user.contact.address  | —    | —       | —    | —    | —    | —   | —    | —       | full | full | —   | full | full
user.demographic      | —    | —       | —    | —    | —    | agg | —    | —       | —    | —    | agg | full | full
user.professional     | —    | —       | —    | —    | full | —   | —    | —       | —    | —    | —   | full | full
user.financial.transaction | full | —  | —    | —    | full | —   | —    | full    | full | full | agg | full | full
user.financial.payment | —   | —       | —    | —    | —    | —   | —    | —       | full | full | —   | full | full
user.device           | —    | —       | —    | —    | —    | —   | —    | —       | full | —    | —   | full | full
user.social           | —    | —       | —    | —    | full | —   | —    | —       | —    | —    | —   | full | full
user.consent          | full | —       | full | —    | full | —   | full | full    | —    | —    | —   | full | full
user.behavior         | —    | —       | —    | —    | —    | —   | —    | —       | —    | —    | agg | full | full
user.communication    | —    | —       | —    | —    | —    | —   | —    | full    | —    | —    | —   | full | full
`;
export const POLICY_MD_LEVELS: ReadonlyMap<string, ReadonlyMap<string, string | undefined>> = new Map(
  POLICY_MD_ROWS.trim()
    .split('\n')
    .map((line) => {
      const [category, ...cells] = line.split('|').map((cell) => cell.trim());
      if (cells.length !== POLICY_MD_PURPOSES.length) throw new Error(`bad POLICY.md row ${category}`);
      return [category!, new Map(POLICY_MD_PURPOSES.map((purpose, i) => [purpose, cells[i] === '—' ? undefined : cells[i]]))] as const;
    }),
);

/**
 * POLICY.md "Consent and opt-outs", by hand: which purposes each state masks a person for, and
 * which fields (`all` = every personal field). Erasure keeps transactions (orders stay).
 */
const ALL_BUT_DATA_SUBJECT = POLICY_MD_PURPOSES.filter((p) => p !== 'legal-compliance' && p !== 'self-service');
export const POLICY_MD_STATES: readonly { state: string; reason: string; purposes: readonly string[]; fields: 'all' | readonly string[]; leftOutOfLists: boolean }[] = [
  { state: 'erased', reason: 'ERASED', purposes: POLICY_MD_PURPOSES, fields: 'all', leftOutOfLists: false },
  { state: 'restricted', reason: 'PROCESSING_RESTRICTED', purposes: ALL_BUT_DATA_SUBJECT, fields: 'all', leftOutOfLists: false },
  {
    state: 'objection',
    reason: 'OBJECTION',
    purposes: ['audience-insights', 'marketing', 'grant-reporting', 'analytics'],
    fields: 'all',
    leftOutOfLists: true,
  },
  { state: 'noMarketingConsent', reason: 'NO_MARKETING_CONSENT', purposes: ['marketing'], fields: 'all', leftOutOfLists: true },
  { state: 'doNotSell', reason: 'DO_NOT_SELL', purposes: ['marketing'], fields: 'all', leftOutOfLists: true },
  {
    state: 'enrichmentOptOut',
    reason: 'ENRICHMENT_OPT_OUT',
    purposes: ALL_BUT_DATA_SUBJECT,
    fields: ['company', 'jobTitle', 'industry', 'webPresence', 'relationships'],
    leftOutOfLists: false,
  },
];

/** A column of masked.people / masked.attendees: its source value, category and masking field. */
export interface ViewColumn {
  column: string;
  category: string;
  field: string;
  kind: 'email' | 'phone' | 'text' | 'value';
}
export const PERSON_VIEW_COLUMNS: readonly ViewColumn[] = [
  { column: 'name', category: 'user.name', field: 'name', kind: 'text' },
  { column: 'email', category: 'user.contact.email', field: 'email', kind: 'email' },
  { column: 'phone', category: 'user.contact.phone', field: 'phone', kind: 'phone' },
  { column: 'billing_line1', category: 'user.contact.address', field: 'billingAddress', kind: 'text' },
  { column: 'billing_city', category: 'user.contact.address', field: 'billingAddress', kind: 'text' },
  { column: 'billing_country', category: 'user.contact.address', field: 'billingAddress', kind: 'text' },
  { column: 'age_range', category: 'user.demographic', field: 'ageRange', kind: 'text' },
  { column: 'company', category: 'user.professional', field: 'company', kind: 'text' },
  { column: 'job_title', category: 'user.professional', field: 'jobTitle', kind: 'text' },
  { column: 'industry', category: 'user.professional', field: 'industry', kind: 'text' },
  { column: 'web_presence', category: 'user.professional', field: 'webPresence', kind: 'text' },
  { column: 'consent_marketing', category: 'user.consent', field: 'consent', kind: 'value' },
  { column: 'consent_restricted', category: 'user.consent', field: 'consent', kind: 'value' },
];
