import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import { gatewaySchema } from '../src/graphql/schema.js';
import { decideAccess, type AccessDecision } from '../src/policy/access-decision.js';
import { accessLevel, loadPolicyFile } from '../src/policy/policy.js';
import { DATABASE_KINDS, rawAsApp } from './support/test-database.js';
import { gatewayFixture, POLICY_FILE } from './support/test-gateway.js';
import {
  FIELDS_ELSEWHERE,
  PERSON_VIEW_COLUMNS,
  POLICY_MD_LEVELS,
  POLICY_MD_PURPOSES,
  POLICY_MD_STATES,
  QUERY_FIELDS_ELSEWHERE,
  QUERY_PATHS,
  roleFor,
  selectionFor,
  TYPES_ELSEWHERE,
} from './support/privacy-paths-cases.js';

/*
 * Privacy red team (issue 8): every read path of a person gives the same visibility as the list
 * path, for every purpose and every consent state; and "consent under a bug": raw SQL through the
 * application role reads person data only masked. Cases come from the schema and the policy.
 */

const TENANT = 'northwind-live';
const policy = loadPolicyFile(POLICY_FILE);
const schema = gatewaySchema();
const PURPOSES = [...policy.purposes.keys()];
const decisions = new Map<string, AccessDecision>(PURPOSES.map((p) => [p, decideAccess(policy, roleFor(policy, p).role, p)]));
const decision = (purpose: string) => decisions.get(purpose)!;
/** Purposes that read people one at a time (the list path exists for them). */
const PER_PERSON = PURPOSES.filter((p) => decision(p).canRead('Query', 'attendees'));
/** Purposes that only count people. */
const AGGREGATE = PURPOSES.filter((p) => decision(p).canRead('Query', 'audienceBreakdown'));
const readsConsent = (purpose: string) => decision(purpose).canRead('Attendee', 'consent');
const CONSENT_BLIND = PER_PERSON.filter((p) => !readsConsent(p));
const sha256 = (value: string) => createHash('sha256').update(value.trim().toLowerCase(), 'utf8').digest('hex');

interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string };
}
type Json = Record<string, unknown>;
interface Edge {
  cursor: string;
  node: Json & { id: string };
}
interface Masked {
  field: string;
  reason: string;
}

const selections = new Map(
  PER_PERSON.map((p) => [
    p,
    {
      attendee: selectionFor(schema, decision(p), 'Attendee'),
      order: decision(p).canRead('Query', 'order') ? selectionFor(schema, decision(p), 'Order') : undefined,
      person: decision(p).canRead('Query', 'dataSubject') ? selectionFor(schema, decision(p), 'DataSubject') : undefined,
      audience: decision(p).canRead('Query', 'marketingAudience') ? selectionFor(schema, decision(p), 'MarketingAudienceMember') : undefined,
    },
  ]),
);

/** Every `reason` anywhere in a response. */
function reasonsIn(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) reasonsIn(v, into);
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reason' && typeof v === 'string') into.push(v);
      else reasonsIn(v, into);
    }
  }
  return into;
}
/** Without consent change times (each consent change restamps them). */
const stamped = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (k, v: unknown) => (k === 'updatedAt' ? 'stamp' : v)));
const withoutConsent = ({ consent: _consent, ...rest }: Json) => stamped(rest);
const pick = (node: Json, keys: string[]) => Object.fromEntries(keys.map((k) => [k, node[k]]));
/** A node that says nothing about the person: every value null or empty, with a reason for it. */
function isAbsentEquivalent(node: Json): boolean {
  const masked = node.masked as Masked[] | undefined;
  return (
    Object.entries(node).every(([k, v]) => ['id', 'tenant', 'masked'].includes(k) || v === null || (Array.isArray(v) && v.length === 0)) &&
    (masked === undefined || masked.length > 0)
  );
}

describe('the red-team cases cover the schema (no database)', () => {
  it('every Query field is exercised by a path case or listed with the reason it is not', () => {
    const fields = Object.keys(schema.getQueryType()!.getFields()).sort();
    const named = [...Object.keys(QUERY_PATHS), ...Object.keys(QUERY_FIELDS_ELSEWHERE)].sort();
    expect(fields, 'a Query field without a privacy-path case (add it to QUERY_PATHS, or QUERY_FIELDS_ELSEWHERE with a reason)').toEqual(named);
  });

  it('every field of every personal type is selected for some purpose, or listed with the reason it is not', () => {
    const covered = new Set<string>();
    for (const s of selections.values()) for (const sel of Object.values(s)) for (const k of sel?.covered ?? []) covered.add(k);
    const missing: string[] = [];
    for (const [type, spec] of policy.types) {
      if (!spec.personal || TYPES_ELSEWHERE[type] !== undefined) continue;
      const object = schema.getType(type);
      expect(object, `${type} is in the policy and the schema`).toBeTruthy();
      for (const field of Object.keys((object as { getFields(): Json }).getFields())) {
        const key = `${type}.${field}`;
        if (!covered.has(key) && FIELDS_ELSEWHERE[key] === undefined) missing.push(key);
      }
    }
    expect(missing, 'personal fields no red-team path reads').toEqual([]);
    // Nothing listed as elsewhere is stale.
    for (const key of Object.keys(FIELDS_ELSEWHERE)) expect(schema.getType(key.split('.')[0]!)).toBeTruthy();
    for (const type of Object.keys(TYPES_ELSEWHERE)) expect(policy.types.get(type)?.personal).toBe(true);
  });

  it('every purpose reads people one at a time, counts them, or only reads the log', () => {
    const other = PURPOSES.filter((p) => !PER_PERSON.includes(p) && !AGGREGATE.includes(p));
    expect(other).toEqual(['security-audit']);
    expect(CONSENT_BLIND.sort()).toEqual(['event-checkin', 'event-reminders', 'fraud-prevention', 'payment-processing']);
  });

  it('schema/policy.yaml says what POLICY.md says for every per-person column of the masking views', () => {
    for (const [category, cells] of POLICY_MD_LEVELS) {
      for (const purpose of POLICY_MD_PURPOSES) {
        expect(accessLevel(policy, purpose, category), `${category} for ${purpose}`).toBe(cells.get(purpose));
      }
    }
    // The consent table, in the policy's precedence order.
    expect(policy.consent.map((r) => [r.state, r.reason])).toEqual(POLICY_MD_STATES.map((s) => [s.state, s.reason]));
    for (const rule of policy.consent) {
      const md = POLICY_MD_STATES.find((s) => s.state === rule.state)!;
      expect([...rule.purposes].filter((p) => POLICY_MD_PURPOSES.includes(p as never)).sort(), rule.state).toEqual([...md.purposes].sort());
    }
  });
});

describe.each(DATABASE_KINDS)('privacy paths over HTTP (%s)', (kind) => {
  // One batched request per purpose and state reads every path at once: far past the cost a
  // dashboard needs, so this suite's gateway allows it (the limits have their own tests).
  const fixture = gatewayFixture(kind, { gateway: { limits: { cost: Number.MAX_SAFE_INTEGER, aliases: 10_000, depth: 50, tokens: 1_000_000 } } });
  const owner = () => fixture.database.owner.db;
  const tokens = new Map<string, string>();
  let subject: { personId: string; name: string; email: string };
  /** The subject's attendee ids before erasure (they must answer nothing afterwards). */
  let originalAttendees: { tenant_id: string; id: string }[] = [];
  const neutralCursors = new Map<string, { prev: string | undefined; subject: string | undefined }>();

  async function post(purpose: string, query: string): Promise<{ status: number; data: Json; errors: GqlError[]; text: string }> {
    const response = await fetch(fixture.gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${tokens.get(purpose)}`, 'x-purpose': purpose },
      body: JSON.stringify({ query }),
    });
    const text = await response.text();
    const body = JSON.parse(text) as { data?: Json | null; errors?: GqlError[] };
    return { status: response.status, data: body.data ?? {}, errors: body.errors ?? [], text };
  }

  const inScope = (purpose: string, tenant: string) => roleFor(policy, purpose).scope !== 'tenant' || tenant === TENANT;

  /** The subject's attendee rows and orders now, as the owner reads them (after erasure, the re-keyed rows). */
  async function subjectRows() {
    const orders = await sql<{ tenant_id: string; id: string; attendee_id: string }>`
      select o.tenant_id, o.id, o.attendee_id from orders o
      where o.id in (select o2.id from orders o2 join attendees a on a.tenant_id = o2.tenant_id and a.id = o2.attendee_id where a.person_id = ${subject.personId})
         or o.id = any(${subjectOrderIds}::text[])
      order by o.id`.execute(owner());
    const attendees = await sql<{ tenant_id: string; id: string }>`
      select tenant_id, id from attendees where person_id = ${subject.personId}
      union select tenant_id, attendee_id from orders where id = any(${orders.rows.map((o) => o.id)}::text[])`.execute(owner());
    return { orders: orders.rows, attendees: attendees.rows };
  }
  let subjectOrderIds: string[] = [];

  interface PurposeView {
    purpose: string;
    list: Edge[];
    byId: Map<string, Json | string>;
    orders: Map<string, Json | string>;
    stale: Map<string, Json | string>;
    person: Json | string | null | undefined;
    me: Json | null | undefined;
    audience: string[] | undefined;
    replays: { prev?: Edge[]; subject?: Edge[] };
    text: string;
  }

  /** One batched request per purpose: the list, every by-id path for the subject, and their person. */
  async function readAs(purpose: string): Promise<PurposeView> {
    const s = selections.get(purpose)!;
    const rows = await subjectRows();
    const attendees = rows.attendees.filter((a) => inScope(purpose, a.tenant_id));
    const stale = originalAttendees.filter((a) => inScope(purpose, a.tenant_id) && !attendees.some((b) => b.id === a.id));
    const orders = rows.orders.filter((o) => inScope(purpose, o.tenant_id));
    const parts = [`list: attendees(first: 500) { edges { cursor node { ${s.attendee.text} } } pageInfo { hasNextPage } }`];
    attendees.forEach((a, i) => parts.push(`a${i}: attendee(id: ${JSON.stringify(a.id)}) { ${s.attendee.text} }`));
    stale.forEach((a, i) => parts.push(`s${i}: attendee(id: ${JSON.stringify(a.id)}) { ${s.attendee.text} }`));
    if (s.order) orders.forEach((o, i) => parts.push(`o${i}: order(id: ${JSON.stringify(o.id)}) { ${s.order!.text} }`));
    if (s.person) parts.push(`person: dataSubject(personId: ${JSON.stringify(subject.personId)}) { ${s.person.text} }`);
    if (s.person && roleFor(policy, purpose).scope === 'person') parts.push(`me { ${s.person.text} }`);
    if (s.audience) parts.push(`audience: marketingAudience(first: 500) { edges { node { ${s.audience.text} } } pageInfo { hasNextPage } }`);
    // Cursors: the neutral state's cursors, replayed now, must continue exactly as the list does.
    const cursors = neutralCursors.get(purpose);
    const page = (after: string | undefined) => `attendees(first: 2${after ? `, after: ${JSON.stringify(after)}` : ''}) { edges { cursor node { ${s.attendee.text} } } }`;
    if (cursors !== undefined) parts.push(`prev: ${page(cursors.prev)}`);
    if (cursors?.subject !== undefined) parts.push(`subject: ${page(cursors.subject)}`);
    const response = await post(purpose, `query RedTeam { ${parts.join('\n')} }`);
    expect(response.status, `${purpose}: ${response.text.slice(0, 300)}`).toBe(200);
    const codeAt = (alias: string) => response.errors.find((e) => e.path?.[0] === alias)?.extensions?.code;
    const unexpected = response.errors.filter((e) => e.extensions?.code !== 'NOT_FOUND');
    expect(unexpected, `${purpose}: only NOT_FOUND may come back`).toEqual([]);
    const at = (alias: string) => (response.data[alias] as Json | null) ?? codeAt(alias) ?? 'NULL';
    const list = response.data.list as { edges: Edge[]; pageInfo: { hasNextPage: boolean } };
    expect(list.pageInfo.hasNextPage).toBe(false);
    const view: PurposeView = {
      purpose,
      list: list.edges,
      byId: new Map(attendees.map((a, i) => [a.id, at(`a${i}`)])),
      stale: new Map(stale.map((a, i) => [a.id, at(`s${i}`)])),
      orders: new Map(s.order ? orders.map((o, i) => [o.id, at(`o${i}`)]) : []),
      person: s.person ? at('person') : undefined,
      me: s.person && roleFor(policy, purpose).scope === 'person' ? ((response.data.me as Json | null) ?? null) : undefined,
      audience: s.audience ? (response.data.audience as { edges: { node: { emailSha256: string } }[] }).edges.map((e) => e.node.emailSha256) : undefined,
      replays: {},
      text: response.text,
    };
    view.replays = {
      prev: (response.data.prev as { edges: Edge[] } | undefined)?.edges,
      subject: (response.data.subject as { edges: Edge[] } | undefined)?.edges,
    };
    return view;
  }

  /** The invariants every state must keep: each path shows what the list shows, no more. */
  async function expectSameVisibility(view: PurposeView, state: string) {
    const label = `${view.purpose} (${state})`;
    const listed = new Map(view.list.map((e) => [e.node.id, e.node]));
    const visibleOrders = new Map<string, Json>();
    for (const [id, byId] of view.byId) {
      const node = listed.get(id);
      if (node !== undefined) {
        expect(byId, `${label}: attendee(id:) equals the list node`).toEqual(node);
      } else {
        // Left out of the list: by id it answers nothing, or a node that says nothing.
        expect(byId === 'NOT_FOUND' || (typeof byId === 'object' && isAbsentEquivalent(byId)), `${label}: attendee(id:) of a person the list leaves out: ${JSON.stringify(byId)}`).toBe(true);
      }
      const shown = node ?? (typeof byId === 'object' ? byId : undefined);
      for (const order of (shown?.orders as Json[] | undefined) ?? []) if (typeof order.id === 'string') visibleOrders.set(order.id, order);
    }
    for (const [id, byId] of view.stale) {
      expect(byId, `${label}: a pre-erasure attendee id answers nothing`).toBe('NOT_FOUND');
      expect(listed.has(id)).toBe(false);
    }
    // order(id:): exactly the orders the list shows nested, with the same values and tickets.
    for (const [id, byId] of view.orders) {
      const nested = visibleOrders.get(id);
      if (nested !== undefined) expect(byId, `${label}: order(id: ${id}) equals the nested order`).toEqual(nested);
      else expect(byId, `${label}: order(id: ${id}) of an order the list does not show`).toBe('NOT_FOUND');
    }
    // Relationship.attendee: wherever a relationship leads to a person, it shows what the list (or, for the subject, attendee(id:)) shows.
    for (const edge of view.list) {
      for (const r of (edge.node.relationships as { attendee?: Json | null }[] | undefined) ?? []) {
        const other = r.attendee;
        if (other === null || other === undefined) continue;
        const id = other.id as string;
        const target = listed.get(id) ?? (view.byId.get(id) as Json | undefined);
        if (view.byId.has(id)) {
          const byId = view.byId.get(id)!;
          expect(typeof byId, `${label}: a relationship leads to the subject, whom attendee(id:) does not answer`).toBe('object');
          expect((byId as Json).masked as Masked[], `${label}: a relationship leads to a person whose relationships are masked`).not.toContainEqual(
            expect.objectContaining({ field: 'relationships' }),
          );
        }
        if (target !== undefined && typeof target === 'object') expect(other, `${label}: Relationship.attendee equals the person's node`).toEqual(pick(target, Object.keys(other)));
      }
    }
    // The person paths (legal-compliance, self-service): each attendance is the list's node.
    for (const person of [view.person, view.me]) {
      if (person === undefined || person === null || typeof person !== 'object') continue;
      const attendances = person.attendances as (Json & { id: string })[];
      for (const attendance of attendances) expect(attendance, `${label}: DataSubject.attendances equals the list node`).toEqual(listed.get(attendance.id));
      const common = ['name', 'email', 'phone', 'ageRange', 'company', 'jobTitle', 'industry', 'webPresence', 'consent', 'billingAddress', 'devices', 'usage', 'supportCases'].filter(
        (k) => k in person,
      );
      for (const attendance of attendances) {
        expect(pick(person, common), `${label}: the person and their attendance agree`).toEqual(pick(attendance, common));
        const fields = new Set((attendance.masked as Masked[]).map((m) => m.field));
        expect((person.masked as Masked[]).filter((m) => fields.has(m.field) || common.includes(m.field))).toEqual(attendance.masked);
      }
      expect(attendances.map((a) => a.id).sort()).toEqual([...view.byId.keys()].sort());
    }
    // marketingAudience: exactly the hashes the marketing list shows.
    if (view.audience !== undefined) {
      const hashes = view.list.map((e) => e.node.email).filter((e): e is string => typeof e === 'string');
      expect([...view.audience].sort(), `${label}: marketingAudience is the list's hashes`).toEqual(hashes.sort());
    }
    // A purpose that may not read consent learns no consent-derived reason.
    if (!readsConsent(view.purpose)) {
      expect(new Set(reasonsIn(JSON.parse(view.text))), `${label}: reasons a consent-blind purpose sees`).toEqual(
        new Set(reasonsIn(JSON.parse(view.text)).filter((r) => r === 'WITHHELD' || r === 'PARTIAL')),
      );
    }
    // Cursors replay exactly as the list continues.
    const at = (cursor: string | undefined) => (cursor === undefined ? -1 : view.list.findIndex((e) => e.cursor === cursor));
    const cursors = neutralCursors.get(view.purpose);
    if (cursors !== undefined && view.replays.prev !== undefined) {
      const start = at(cursors.prev) + 1;
      expect(start, `${label}: the edge before the subject is still listed`).toBeGreaterThan(cursors.prev === undefined ? -1 : 0);
      expect(view.replays.prev, `${label}: after the cursor before the subject`).toEqual(view.list.slice(start, start + 2));
      if (view.replays.subject !== undefined) {
        const replay = view.replays.subject;
        for (const id of view.stale.keys()) expect(replay.map((e) => e.node.id), `${label}: a replayed cursor yields no old id`).not.toContain(id);
        const k = view.list.findIndex((e) => e.cursor === replay[0]?.cursor);
        expect(replay, `${label}: after the subject's cursor, a run of the list`).toEqual(replay.length === 0 ? [] : view.list.slice(k, k + replay.length));
        if (state !== 'erased') {
          const i = view.list.findIndex((e) => e.cursor === cursors.subject);
          const from = i >= 0 ? i + 1 : at(cursors.prev) + 1;
          expect(replay).toEqual(view.list.slice(from, from + 2));
        }
      }
    }
  }

  type Snapshot = Map<string, PurposeView>;
  async function snapshotAll(state: string): Promise<Snapshot> {
    const views: Snapshot = new Map();
    for (const purpose of PER_PERSON) {
      const view = await readAs(purpose);
      await expectSameVisibility(view, state);
      views.set(purpose, view);
    }
    return views;
  }

  const subjectNode = (view: PurposeView) => {
    const ids = new Set(view.byId.keys());
    return view.list.find((e) => ids.has(e.node.id))?.node;
  };
  const byIdNodes = (view: PurposeView) => [...view.byId.values()].filter((v): v is Json => typeof v === 'object');

  async function officer(mutation: string) {
    const response = await post('legal-compliance', mutation);
    expect(response.errors, mutation).toEqual([]);
    return response.data;
  }
  const setConsent = (input: string) => officer(`mutation { setConsent(personId: ${JSON.stringify(subject.personId)}, input: { ${input} }) { marketing } }`);
  const restrict = (on: boolean) => officer(`mutation { restrictProcessing(personId: ${JSON.stringify(subject.personId)}, restricted: ${on}) { restricted } }`);

  beforeAll(async () => {
    for (const purpose of PURPOSES) {
      const { role, scope } = roleFor(policy, purpose);
      tokens.set(purpose, await fixture.keys.sign({ roles: [role], purposes: [purpose], ttl: '30m', tenant: scope === 'tenant' ? TENANT : undefined, sub: scope === 'person' ? 'later' : `${role}@test` }));
    }
    // A neutral northwind person with orders in two tenants, relationships, enrichment and marketing consent.
    const candidates = await sql<{ personId: string; name: string; email: string }>`
      select p.id as "personId", p.name, p.email from people p
      join consents c on c.person_id = p.id and c.marketing and c.enrichment and not c.do_not_sell and not c.restricted and not c.objection
      join enrichments en on en.person_id = p.id and en.company is not null
      join attendees a on a.person_id = p.id and a.tenant_id = ${TENANT}
      where exists (select 1 from relationships r
          join attendees other on other.tenant_id = r.tenant_id and other.id in (r.from_attendee_id, r.to_attendee_id) and other.id <> a.id
          join consents oc on oc.person_id = other.person_id and oc.enrichment and not oc.restricted and not oc.objection
          where r.tenant_id = a.tenant_id and a.id in (r.from_attendee_id, r.to_attendee_id))
        and exists (select 1 from orders o where o.tenant_id = a.tenant_id and o.attendee_id = a.id)
        and exists (select 1 from devices d where d.person_id = p.id)
        and (select count(distinct a2.tenant_id) from attendees a2 where a2.person_id = p.id) > 1
      order by p.id desc`.execute(owner());
    expect(candidates.rows.length).toBeGreaterThan(0);
    subject = candidates.rows[0]!;
    tokens.set('self-service', await fixture.keys.sign({ roles: ['data_subject'], purposes: ['self-service'], ttl: '30m', sub: subject.personId }));
    subjectOrderIds = [];
    const rows = await subjectRows();
    subjectOrderIds = rows.orders.map((o) => o.id);
    originalAttendees = rows.attendees;
  });

  describe('consent under a bug: raw SQL through the application role', () => {
    const BASE_TABLES = ['people', 'consents', 'enrichments', 'devices', 'usage_events', 'support_cases', 'attendees', 'orders', 'tickets', 'relationships'];
    const VIEWS = ['people', 'attendees', 'orders', 'tickets', 'relationships', 'devices', 'usage_events', 'support_cases'].map((v) => `masked.${v}`);
    const PLATFORM = { scope: 'platform', purpose: 'legal-compliance' };

    interface Truth {
      id: string;
      name: string | null;
      email: string | null;
      phone: string | null;
      billing_line1: string | null;
      billing_city: string | null;
      billing_country: string | null;
      age_range: string | null;
      company: string | null;
      job_title: string | null;
      industry: string | null;
      web_presence: string | null;
      consent_marketing: boolean;
      consent_restricted: boolean;
      objection: boolean;
      do_not_sell: boolean;
      enrichment: boolean;
    }
    let truth: Map<string, Truth>;
    const statesOf = (t: Truth) =>
      [
        t.consent_restricted && 'restricted',
        t.objection && 'objection',
        !t.consent_marketing && 'noMarketingConsent',
        t.do_not_sell && 'doNotSell',
        !t.enrichment && 'enrichmentOptOut',
      ].filter((x): x is string => typeof x === 'string');
    /** POLICY.md: the level a purpose reads a category at per person (`agg` and absent: nothing). */
    const levelOf = (purpose: string, category: string) => {
      const level = POLICY_MD_LEVELS.get(category)?.get(purpose);
      return level === 'agg' ? undefined : level;
    };
    /** The first consent state (in precedence order) that masks this field of this person for the purpose, as POLICY.md reports it. */
    function maskedBy(purpose: string, states: string[], field: string): string | undefined {
      const rule = POLICY_MD_STATES.find((r) => states.includes(r.state) && r.purposes.includes(purpose) && (r.fields === 'all' || r.fields.includes(field)));
      if (rule === undefined) return undefined;
      return levelOf(purpose, 'user.consent') === undefined ? 'WITHHELD' : rule.reason;
    }
    function expectedValue(purpose: string, column: (typeof PERSON_VIEW_COLUMNS)[number], t: Truth): unknown {
      const raw = t[column.column as keyof Truth];
      const level = levelOf(purpose, column.category);
      if (raw === null || level === undefined || maskedBy(purpose, statesOf(t), column.field) !== undefined) return null;
      if (level === 'full') return raw;
      const text = String(raw);
      if (level === 'hash') return sha256(text);
      if (column.kind === 'email') return `${text[0]}***${text.slice(text.lastIndexOf('@'))}`;
      return `***-${text.replace(/\D/g, '').slice(-4)}`;
    }

    beforeAll(async () => {
      const rows = await sql<Truth>`
        select p.id, p.name, p.email, p.phone, p.billing_line1, p.billing_city, p.billing_country, p.age_range,
          en.company, en.job_title, en.industry, en.web_presence,
          c.marketing as consent_marketing, c.restricted as consent_restricted, c.objection, c.do_not_sell, c.enrichment
        from people p join consents c on c.person_id = p.id left join enrichments en on en.person_id = p.id`.execute(owner());
      truth = new Map(rows.rows.map((r) => [r.id, r]));
    });

    it('the demo holds people in every consent state (so each mask below is reached)', () => {
      const seen = new Set([...truth.values()].flatMap(statesOf));
      expect([...seen].sort()).toEqual(['doNotSell', 'enrichmentOptOut', 'noMarketingConsent', 'objection', 'restricted']);
    });

    it.each(BASE_TABLES)('select * from %s is refused (permission denied), under any scope and purpose', async (table) => {
      for (const settings of [PLATFORM, { scope: 'tenant', tenant: TENANT, purpose: 'ticketing' }, { scope: 'platform', purpose: 'fraud-prevention' }]) {
        await expect(rawAsApp(fixture.database, `select * from ${table}`, settings), `${table} ${settings.purpose}`).rejects.toThrow(/permission denied/);
      }
    });

    it('the same role and settings read the masking views (the control)', async () => {
      for (const view of VIEWS) expect((await rawAsApp(fixture.database, `select * from ${view}`, PLATFORM)).length, view).toBeGreaterThan(0);
      expect((await rawAsApp(fixture.database, 'select * from masked.attendees', { scope: 'tenant', tenant: TENANT, purpose: 'ticketing' })).length).toBeGreaterThan(0);
    });

    it.each(VIEWS)('%s returns no rows with no purpose set, or an undeclared one', async (view) => {
      for (const settings of [{ scope: 'platform' }, { scope: 'platform', purpose: 'no-such-purpose' }, { scope: 'platform', purpose: '' }, { scope: 'tenant', tenant: TENANT }]) {
        expect(await rawAsApp(fixture.database, `select * from ${view}`, settings), JSON.stringify(settings)).toEqual([]);
      }
    });

    it('masked.audience_breakdown is refused with no purpose, an undeclared one, or one that may not count', async () => {
      for (const purpose of [undefined, 'no-such-purpose', 'ticketing']) {
        await expect(rawAsApp(fixture.database, `select * from masked.audience_breakdown('AGE_RANGE', null, null)`, { scope: 'platform', purpose })).rejects.toThrow();
      }
      expect((await rawAsApp(fixture.database, `select * from masked.audience_breakdown('AGE_RANGE', null, null)`, { scope: 'platform', purpose: 'analytics' })).length).toBeGreaterThan(0);
    });

    it.each(PURPOSES.flatMap((p) => ['masked.people', 'masked.attendees'].map((v) => [p, v] as const)))(
      '%s: select * from %s masks every column as POLICY.md says, per person and state',
      async (purpose, view) => {
        const rows = await rawAsApp<Json & { person_id: string; mask_reasons: Record<string, string> }>(fixture.database, `select * from ${view}`, { scope: 'platform', purpose });
        const readable = PERSON_VIEW_COLUMNS.filter((c) => levelOf(purpose, c.category) !== undefined).map((c) => c.column);
        // A purpose that reads no person one at a time sees no person rows at all. Security staff
        // read residency alone (frozen into a breach incident for the regulator summary, which
        // shows it only as counts): their rows carry nothing else, as the checks below verify.
        if (readable.length === 0 && purpose !== 'security-audit') expect(rows).toEqual([]);
        else expect(rows.length).toBeGreaterThanOrEqual(truth.size);
        const reached = new Set<string>();
        for (const row of rows) {
          const t = truth.get(row.person_id)!;
          expect(t, 'every row is a person').toBeTruthy();
          for (const column of PERSON_VIEW_COLUMNS) {
            const where = `${purpose} ${view} ${row.person_id}.${column.column}`;
            expect(row[column.column], where).toEqual(expectedValue(purpose, column, t));
            if (row[column.column] !== null) reached.add(column.column);
            // A reason only on a field the purpose reads (a reason on any other field would tell the state).
            const reason = levelOf(purpose, column.category) === undefined ? undefined : maskedBy(purpose, statesOf(t), column.field);
            expect(row.mask_reasons[column.field], where).toBe(reason);
          }
          for (const reason of Object.values(row.mask_reasons)) {
            if (levelOf(purpose, 'user.consent') === undefined) expect(reason, `${purpose} may not learn consent`).toBe('WITHHELD');
          }
        }
        // Positive control: every column the purpose may read per person does reach somebody's value.
        expect([...reached].sort(), purpose).toEqual(readable.sort());
      },
    );

    it.each(PURPOSES.filter((p) => !POLICY_MD_LEVELS.get('user.consent')!.get(p)))(
      '%s may not read user.consent: no column of masked.people tells one person\'s state from another\'s',
      async (purpose) => {
        const rows = await rawAsApp<Json>(fixture.database, 'select * from masked.people', { scope: 'platform', purpose });
        if (rows.length === 0) return; // no person rows at all (aggregate-only purposes): nothing to tell apart
        const restrictedOne = rows.find((r) => truth.get(r.person_id as string)!.consent_restricted)!;
        const neutralOne = rows.find((r) => statesOf(truth.get(r.person_id as string)!).length === 0)!;
        expect(restrictedOne && neutralOne).toBeTruthy();
        // Every column that is not a person's value (masked above) nor their id: none may differ by state.
        const VALUES = /^(name|email|phone|billing_.*|age_range|residency|created_at|last_active_at|company|job_title|industry|web_presence|consent_.*)$/;
        const meta = Object.keys(neutralOne).filter((k) => !VALUES.test(k) && k !== 'person_id' && k !== 'mask_reasons');
        expect(meta.length).toBeGreaterThan(0);
        expect(pick(restrictedOne, meta), `${purpose}: a restricted person's non-value columns`).toEqual(pick(neutralOne, meta));
      },
    );

    it.each(PURPOSES)('%s: select * from masked.orders holds exactly the orders POLICY.md lets it read per person', async (purpose) => {
      const rows = await rawAsApp<Json & { id: string; person_id: string | null }>(fixture.database, 'select * from masked.orders', { scope: 'platform', purpose });
      const orders = await sql<{ id: string; person_id: string | null; total_cents: number; payment_ref: string | null }>`
        select o.id, a.person_id, o.total_cents, o.payment_ref from orders o join attendees a on a.tenant_id = o.tenant_id and a.id = o.attendee_id`.execute(owner());
      const transactions = levelOf(purpose, 'user.financial.transaction') === 'full';
      const tickets = accessLevel(policy, purpose, 'user.financial.transaction.ticket');
      const perPerson = transactions || (tickets !== undefined && tickets !== 'agg');
      const expected = orders.rows.filter((o) => perPerson && (o.person_id === null || maskedBy(purpose, statesOf(truth.get(o.person_id)!), 'orders') === undefined));
      expect(rows.map((r) => r.id).sort(), purpose).toEqual(expected.map((o) => o.id).sort());
      for (const row of rows) {
        const order = expected.find((o) => o.id === row.id)!;
        expect(row.total_cents === null ? null : Number(row.total_cents), `${purpose} ${row.id} total`).toEqual(transactions ? order.total_cents : null);
        expect(row.payment_ref, `${purpose} ${row.id} payment_ref`).toEqual(levelOf(purpose, 'user.financial.payment') === 'full' ? order.payment_ref : null);
      }
      if (purpose === 'ticketing') expect(orders.rows.length - rows.length, 'some orders are hidden by a person\'s state').toBeGreaterThan(0);
    });
  });

  describe('writes through the application role with a tenant scope', () => {
    const STATEMENTS = ['update consents set marketing = not marketing', "update people set name = 'Changed'", 'delete from relationships'];
    const snapshot = async () =>
      JSON.stringify([
        (await sql`select person_id, marketing from consents order by person_id`.execute(owner())).rows,
        (await sql`select id, name from people order by id`.execute(owner())).rows,
        (await sql`select * from relationships order by tenant_id, from_attendee_id, to_attendee_id, kind`.execute(owner())).rows,
      ]);

    it('each statement changes rows when the owner runs it (the control), and rows are visible to the tenant', async () => {
      for (const statement of STATEMENTS) {
        const changed = await owner()
          .transaction()
          .execute(async (trx) => {
            const result = await sql.raw(statement).execute(trx);
            throw Object.assign(new Error('rollback'), { changed: Number(result.numAffectedRows ?? 0n) });
          })
          .catch((error: { changed?: number }) => error.changed);
        expect(changed, statement).toBeGreaterThan(0);
      }
      const settings = { scope: 'tenant', tenant: TENANT, purpose: 'ticketing' };
      expect((await rawAsApp(fixture.database, 'select tenant_id from relationships', settings)).length).toBeGreaterThan(0);
      expect((await rawAsApp(fixture.database, 'select person_id from consents', settings)).length).toBeGreaterThan(0);
    });

    it.each(['ticketing', 'audience-insights', 'legal-compliance', 'self-service'])(
      'UPDATE consents, UPDATE people, DELETE FROM relationships with tenant scope and purpose %s change nothing',
      async (purpose) => {
        const before = await snapshot();
        for (const statement of STATEMENTS) {
          const outcome = await rawAsApp<{ n: number }>(
            fixture.database,
            `with changed as (${statement} returning 1) select count(*)::int as n from changed`,
            { scope: 'tenant', tenant: TENANT, purpose },
          ).then(
            (rows) => `changed ${rows[0]!.n}`,
            (error: Error) => (/permission denied|row-level security/.test(error.message) ? 'refused' : error.message),
          );
          expect(['refused', 'changed 0'], `${purpose}: ${statement}`).toContain(outcome);
        }
        expect(await snapshot()).toEqual(before);
      },
    );
  });

  describe('aggregates: POLICY.md suppression over HTTP', () => {
    const DIMENSIONS = ['AGE_RANGE', 'COUNTRY', 'TICKET_TYPE'];
    interface Bucket {
      value: string;
      count: number | null;
      suppressed: boolean;
    }
    /** People per value, from the tables as the owner reads them (POLICY.md: restricted and objecting people are not counted). */
    async function truthOf(dimension: string, tenant: string | null, event: string | null): Promise<Map<string, number>> {
      const value =
        dimension === 'AGE_RANGE' ? sql`p.age_range` : sql`case when p.residency like 'EU-%' then split_part(p.residency, '-', 2) else split_part(p.residency, '-', 1) end`;
      const rows = await sql<{ value: string; n: number }>`
        select ${value} as value, count(distinct p.id)::int as n
        from people p join consents c on c.person_id = p.id join attendees a on a.person_id = p.id
        where not c.restricted and not c.objection
          and (${tenant}::text is null or a.tenant_id = ${tenant})
          and (${event}::text is null or exists (select 1 from orders o where o.tenant_id = a.tenant_id and o.attendee_id = a.id and o.event_id = ${event}))
        group by 1 having ${value} is not null`.execute(owner());
      return new Map(rows.rows.map((r) => [r.value, Number(r.n)]));
    }

    it.each(AGGREGATE)('%s: no bucket under 5 shows a value or a count, and total minus visible recovers nothing', async (purpose) => {
      const { scope } = roleFor(policy, purpose);
      const tenant = scope === 'tenant' ? TENANT : null;
      const events = (await sql<{ id: string; tenant_id: string }>`select id, tenant_id from events order by id`.execute(owner())).rows.filter((e) => tenant === null || e.tenant_id === tenant);
      const cases = DIMENSIONS.filter((d) => decision(purpose).canAggregate(d)).flatMap((d) => [null, ...events.map((e) => e.id)].map((event) => [d, event] as const));
      expect(cases.length).toBeGreaterThan(1);
      const query = cases.map(([d, event], i) => `b${i}: audienceBreakdown(dimension: ${d}${event ? `, eventId: ${JSON.stringify(event)}` : ''}) { value count suppressed }`).join('\n');
      const response = await post(purpose, `query Breakdowns { ${query} }`);
      expect(response.errors).toEqual([]);
      let smallBuckets = 0;
      for (const [i, [dimension, event]] of cases.entries()) {
        const label = `${purpose} ${dimension} ${event ?? 'all'}`;
        const buckets = response.data[`b${i}`] as Bucket[];
        const visible = buckets.filter((b) => !b.suppressed);
        const hidden = buckets.filter((b) => b.suppressed);
        expect(hidden.length, label).toBeLessThanOrEqual(1);
        for (const b of visible) expect(b.count, `${label} ${b.value}`).toBeGreaterThanOrEqual(5);
        for (const b of hidden) {
          expect(b.value, label).toBe('SUPPRESSED');
          // Reported only with a total of at least 5: fewer hidden people are not even shown to exist.
          expect(b.count, label).not.toBeNull();
          expect(b.count!).toBeGreaterThanOrEqual(5);
        }
        if (dimension === 'TICKET_TYPE') continue;
        const people = await truthOf(dimension, tenant, event);
        const total = [...people.values()].reduce((a, b) => a + b, 0);
        for (const b of visible) expect(b.count, `${label} ${b.value}`).toBe(people.get(b.value));
        const recovered = total - visible.reduce((a, b) => a + b.count!, 0);
        // Under 5 counted people in all: no bucket, exactly as for nobody.
        if (total > 0 && total < 5) expect(buckets, `${label}: ${total} people in all`).toEqual([]);
        else expect(recovered === 0 || recovered >= 5, `${label}: total minus visible buckets = ${recovered}: ${JSON.stringify(buckets)} from ${JSON.stringify([...people])}`).toBe(true);
        if (hidden[0]?.count !== null && hidden[0] !== undefined) expect(hidden[0].count, label).toBe(recovered);
        for (const [value, n] of people) if (n < 5) {
          smallBuckets += 1;
          expect(visible.map((b) => b.value), `${label}: a bucket of ${n} shows its value`).not.toContain(value);
        }
      }
      expect(smallBuckets, 'the probe meets buckets under 5').toBeGreaterThan(0);
    });
  });

  describe('same visibility on every path, one consent state at a time', () => {
    let neutral: Snapshot;

    it('neutral (the positive control): every path reaches the person, their orders and relationships', async () => {
      neutral = await snapshotAll('neutral');
      // The cursors the later states replay.
      for (const [purpose, view] of neutral) {
        const index = view.list.findIndex((e) => view.byId.has(e.node.id));
        expect(index, `${purpose} lists the subject`).toBeGreaterThanOrEqual(0);
        neutralCursors.set(purpose, { prev: index > 0 ? view.list[index - 1]!.cursor : undefined, subject: view.list[index]!.cursor });
      }
      for (const [purpose, view] of neutral) {
        const node = subjectNode(view)!;
        expect(node.masked, purpose).not.toContainEqual(expect.objectContaining({ reason: expect.not.stringMatching(/^PARTIAL$/) }));
        if ('name' in node) expect(node.name, purpose).toBe(subject.name);
        if (view.orders.size > 0) {
          expect([...view.orders.values()].filter((o) => o === 'NOT_FOUND'), `${purpose}: order(id:) answers every order`).toEqual([]);
        }
      }
      expect(subjectOrderIds.length).toBeGreaterThan(1);
      const insights = neutral.get('audience-insights')!;
      const pointing = insights.list.filter((e) => (e.node.relationships as { attendee: Json | null }[]).some((r) => r.attendee !== null && insights.byId.has(r.attendee.id as string)));
      expect(pointing.length, 'another attendee relates to the subject').toBeGreaterThan(0);
      expect(neutral.get('marketing')!.audience).toContain(sha256(subject.email));
      expect(neutral.get('legal-compliance')!.person).toMatchObject({ id: subject.personId, name: subject.name });
      expect(neutral.get('self-service')!.me).toMatchObject({ id: subject.personId, email: subject.email });
      expect((neutral.get('fraud-prevention')!.orders.values().next().value as Json).paymentRef).toEqual(expect.any(String));
    });

    it('opted out of enrichment: enrichment masked everywhere, and no relationship leads to the person', async () => {
      await setConsent('enrichment: false');
      const now = await snapshotAll('enrichment opt-out');
      await setConsent('enrichment: true');
      const node = subjectNode(now.get('audience-insights')!)!;
      expect(node.company).toBeNull();
      expect(node.relationships).toEqual([]);
      expect(node.masked).toContainEqual({ field: 'relationships', reason: 'ENRICHMENT_OPT_OUT' });
      const insights = now.get('audience-insights')!;
      expect(insights.list.some((e) => (e.node.relationships as { attendee: Json | null }[]).some((r) => r.attendee !== null && insights.byId.has(r.attendee.id as string)))).toBe(false);
      expect(subjectNode(now.get('legal-compliance')!)!.company).not.toBeNull();
    });

    it.each([
      ['no marketing consent', 'marketing: false', 'marketing: true', 'NO_MARKETING_CONSENT'],
      ['do-not-sell', 'doNotSell: true', 'doNotSell: false', 'DO_NOT_SELL'],
    ])('%s: out of the marketing list and audience; by id masked with the reason', async (state, set, undo, reason) => {
      await setConsent(set);
      const now = await snapshotAll(state);
      await setConsent(undo);
      const marketing = now.get('marketing')!;
      expect(subjectNode(marketing)).toBeUndefined();
      expect(marketing.audience).not.toContain(sha256(subject.email));
      for (const node of byIdNodes(marketing)) expect(new Set((node.masked as Masked[]).map((m) => m.reason))).toEqual(new Set([reason]));
      expect(subjectNode(now.get('ticketing')!), 'ticketing is unaffected').toMatchObject({ name: subject.name, email: subject.email });
    });

    it('restricted: orders by id NOT_FOUND for every purpose the list hides them from; consent-blind purposes see WITHHELD', async () => {
      await restrict(true);
      const now = await snapshotAll('restricted');
      await restrict(false);
      for (const purpose of ['ticketing', 'customer-support', 'fraud-prevention', 'payment-processing', 'audience-insights']) {
        const orders = [...now.get(purpose)!.orders.values()];
        expect(orders.length, purpose).toBeGreaterThan(0);
        expect(orders, `${purpose}: a restricted person's orders by id`).toEqual(orders.map(() => 'NOT_FOUND'));
      }
      for (const purpose of CONSENT_BLIND) {
        const node = subjectNode(now.get(purpose)!)!;
        expect(node, purpose).toBeTruthy();
        expect((node.masked as Masked[]).length, purpose).toBeGreaterThan(0);
        expect(new Set((node.masked as Masked[]).map((m) => m.reason)), purpose).toEqual(new Set(['WITHHELD']));
        if ('name' in node) expect(node.name).toBeNull();
      }
      expect(new Set((subjectNode(now.get('ticketing')!)!.masked as Masked[]).map((m) => m.reason))).toEqual(new Set(['PROCESSING_RESTRICTED']));
      expect(withoutConsent(subjectNode(now.get('legal-compliance')!)!), 'legal-compliance sees the person whole').toEqual(withoutConsent(subjectNode(neutral.get('legal-compliance')!)!));
      expect(JSON.stringify(now.get('self-service')!.me)).toContain(subject.email);
    });

    it('objection: essential purposes unaffected (orders by id answer); insights and marketing leave the person out', async () => {
      await setConsent('objection: true');
      const now = await snapshotAll('objection');
      await setConsent('objection: false');
      for (const purpose of ['ticketing', 'customer-support', 'fraud-prevention', 'payment-processing']) {
        expect([...now.get(purpose)!.orders.values()], purpose).toEqual([...neutral.get(purpose)!.orders.values()]);
      }
      const insights = now.get('audience-insights')!;
      expect(subjectNode(insights)).toBeUndefined();
      expect([...insights.orders.values()].every((o) => o === 'NOT_FOUND')).toBe(true);
      expect(subjectNode(now.get('marketing')!)).toBeUndefined();
    });

    it('back to neutral: every path shows what it showed before', async () => {
      const again = await snapshotAll('neutral again');
      for (const purpose of PER_PERSON) {
        expect(stamped(again.get(purpose)!.list), purpose).toEqual(stamped(neutral.get(purpose)!.list));
        expect([...again.get(purpose)!.orders], purpose).toEqual([...neutral.get(purpose)!.orders]);
      }
    });

    it('erased (last: irreversible): old ids answer nothing, orders stay without payment reference, reasons WITHHELD where consent is unreadable', async () => {
      await officer(`mutation { requestErasure(personId: ${JSON.stringify(subject.personId)}) { id } }`);
      const now = await snapshotAll('erased');
      for (const view of now.values()) {
        expect(view.text, view.purpose).not.toContain(subject.email);
        expect(view.text, view.purpose).not.toContain(subject.name);
        for (const [id, answer] of view.stale) expect(answer, `${view.purpose}: old attendee ${id}`).toBe('NOT_FOUND');
      }
      expect(now.get('legal-compliance')!.person).toBe('NOT_FOUND');
      expect(now.get('self-service')!.me).toBeNull();
      for (const purpose of ['ticketing', 'fraud-prevention', 'payment-processing']) {
        const orders = [...now.get(purpose)!.orders.values()];
        expect(orders.length, purpose).toBeGreaterThan(0);
        for (const order of orders) {
          expect(typeof order, `${purpose}: an erased person's order is kept`).toBe('object');
          if ('paymentRef' in (order as Json)) expect((order as Json).paymentRef).toBeNull();
        }
      }
      for (const purpose of CONSENT_BLIND) {
        for (const node of byIdNodes(now.get(purpose)!)) expect(new Set((node.masked as Masked[]).map((m) => m.reason)), purpose).toEqual(new Set(['WITHHELD']));
        expect(byIdNodes(now.get(purpose)!).length, `${purpose} reads the re-keyed attendee`).toBeGreaterThan(0);
      }
      for (const node of byIdNodes(now.get('ticketing')!)) expect(new Set((node.masked as Masked[]).map((m) => m.reason))).toEqual(new Set(['ERASED']));
    });
  });
});
