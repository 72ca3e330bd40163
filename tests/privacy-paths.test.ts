import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
const AGGREGATE = PURPOSES.filter((p) => ['AGE_RANGE', 'COUNTRY', 'TICKET_TYPE'].some((d) => decision(p).canAggregate(d)));
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
  const fixture = gatewayFixture(kind);
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
    // Cursors: the neutral state's cursors, replayed now, continue exactly as the list does.
    const cursors = neutralCursors.get(purpose);
    if (cursors !== undefined) {
      const replay = [`prev: attendees(first: 2${cursors.prev ? `, after: ${JSON.stringify(cursors.prev)}` : ''}) { edges { cursor node { ${s.attendee.text} } } }`];
      if (cursors.subject) replay.push(`subject: attendees(first: 2, after: ${JSON.stringify(cursors.subject)}) { edges { cursor node { ${s.attendee.text} } } }`);
      const replayed = await post(purpose, `query Replay { ${replay.join('\n')} }`);
      expect(replayed.errors).toEqual([]);
      view.replays = {
        prev: (replayed.data.prev as { edges: Edge[] }).edges,
        subject: (replayed.data.subject as { edges: Edge[] } | undefined)?.edges,
      };
    }
    return view;
  }

  /** The invariants every state must keep: each path shows what the list shows, no more. */
  async function expectSameVisibility(view: PurposeView, state: string) {
    const label = `${view.purpose} (${state})`;
    const s = selections.get(view.purpose)!;
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
    void s;
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
    const candidates = await sql<{ id: string; name: string; email: string }>`
      select p.id, p.name, p.email from people p
      join consents c on c.person_id = p.id and c.marketing and c.enrichment and not c.do_not_sell and not c.restricted and not c.objection
      join enrichments en on en.person_id = p.id and en.company is not null
      join attendees a on a.person_id = p.id and a.tenant_id = ${TENANT}
      where exists (select 1 from relationships r where r.tenant_id = a.tenant_id and a.id in (r.from_attendee_id, r.to_attendee_id))
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

  describe('same visibility on every path, one consent state at a time', () => {
    let neutral: Snapshot;

    it('neutral (the positive control): every path reaches the person, their orders and relationships', async () => {
      // First pass records the cursors the later states replay.
      for (const purpose of PER_PERSON) {
        const view = await readAs(purpose);
        const index = view.list.findIndex((e) => view.byId.has(e.node.id));
        expect(index, `${purpose} lists the subject`).toBeGreaterThanOrEqual(0);
        neutralCursors.set(purpose, { prev: index > 0 ? view.list[index - 1]!.cursor : undefined, subject: view.list[index]!.cursor });
      }
      neutral = await snapshotAll('neutral');
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
      expect(subjectNode(now.get('legal-compliance')!)).toEqual(subjectNode(neutral.get('legal-compliance')!));
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
        expect(again.get(purpose)!.list, purpose).toEqual(neutral.get(purpose)!.list);
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
