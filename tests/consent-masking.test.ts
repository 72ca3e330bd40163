import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';
import { startTestGateway, type TestGateway } from './support/test-gateway.js';
import { expectedBuckets } from './support/suppression.js';

/*
 * POLICY.md "Consent and opt-outs", one state at a time. Every expectation below is written by hand
 * from POLICY.md (never read from policy.yaml, which is the implementation under test) and checked
 * against the same person's views in the neutral state, so that each one can fail.
 */

const TENANT = 'northwind-live';

interface Masked {
  field: string;
  reason: string;
}
interface InsightsNode {
  id: string;
  name: string | null;
  email: string | null;
  company: string | null;
  jobTitle: string | null;
  industry: string | null;
  webPresence: string | null;
  relationships: { kind: string }[];
  consent: { marketing: boolean } | null;
  orders: { id: string }[];
  masked: Masked[];
}
interface MarketingNode {
  id: string;
  email: string | null;
  consent: { marketing: boolean } | null;
  masked: Masked[];
}
interface SupportNode {
  name: string | null;
  email: string | null;
  phone: string | null;
  orders: { id: string }[];
  masked: Masked[];
}
interface Bucket {
  value: string;
  count: number | null;
}
interface Connection<Node> {
  edges: { node: Node }[];
  pageInfo: { hasNextPage: boolean };
}
interface PersonView {
  id: string;
  name: string | null;
  email: string | null;
  phone: string | null;
  company: string | null;
  jobTitle: string | null;
  consent: { restricted: boolean } | null;
  attendances: { tenant: string; orders: { id: string }[]; relationships: { kind: string }[] }[];
  masked: Masked[];
}

const INSIGHTS_FIELDS = `fragment I on Attendee {
  id name email company jobTitle industry webPresence relationships { kind } consent { marketing } orders { id } masked { field reason }
}`;
const INSIGHTS_LIST = `query InsightsList { attendees(first: 500) { edges { node { ...I } } pageInfo { hasNextPage } } } ${INSIGHTS_FIELDS}`;
const INSIGHTS_DIRECT = `query InsightsDirect($id: ID!) { attendee(id: $id) { ...I } } ${INSIGHTS_FIELDS}`;
const INSIGHTS_BOTH = `query InsightsBoth($id: ID!) {
  attendees(first: 500) { edges { node { ...I } } pageInfo { hasNextPage } }
  attendee(id: $id) { ...I }
} ${INSIGHTS_FIELDS}`;
const RELATIONSHIP_ENDS = `query RelationshipEnds { attendees(first: 500) { edges { node { id relationships { kind attendee { id } } } } } }`;
const MARKETING_FIELDS = `fragment M on Attendee { id email consent { marketing } masked { field reason } }`;
const MARKETING_LIST = `query MarketingList { attendees(first: 500) { edges { node { ...M } } pageInfo { hasNextPage } } } ${MARKETING_FIELDS}`;
const MARKETING_DIRECT = `query MarketingDirect($id: ID!) { attendee(id: $id) { ...M } } ${MARKETING_FIELDS}`;
const MARKETING_AUDIENCE = `query Audience { marketingAudience(first: 500) { edges { node { emailSha256 } } pageInfo { hasNextPage } } }`;
const SUPPORT_DIRECT = `query Support($id: ID!) { attendee(id: $id) { name email phone orders { id } masked { field reason } } }`;
const BREAKDOWNS = `query Breakdowns {
  age: audienceBreakdown(dimension: AGE_RANGE) { value count }
  tickets: audienceBreakdown(dimension: TICKET_TYPE) { value count }
}`;
const PERSON_FIELDS = `id name email phone company jobTitle consent { restricted }
  attendances { tenant orders { id } relationships { kind } } masked { field reason }`;
const CONSENT_FIELDS = 'marketing enrichment doNotSell restricted objection';
const SET_CONSENT = `mutation SetConsent($id: ID!, $input: ConsentInput!) { setConsent(personId: $id, input: $input) { ${CONSENT_FIELDS} } }`;
const RESTRICT = `mutation Restrict($id: ID!, $restricted: Boolean!) { restrictProcessing(personId: $id, restricted: $restricted) { ${CONSENT_FIELDS} } }`;

const NEUTRAL_CONSENT = { marketing: true, enrichment: true, doNotSell: false, restricted: false, objection: false };
const ENRICHMENT_FIELDS = ['company', 'jobTitle', 'industry', 'webPresence'] as const;
const MINIMUM_GROUP = 5;

const sha256 = (value: string) => createHash('sha256').update(value.trim().toLowerCase(), 'utf8').digest('hex');
const byField = (masked: Masked[]) => [...masked].sort((a, b) => a.field.localeCompare(b.field));
const reasonsOf = (masked: Masked[]) => new Set(masked.map((m) => m.reason));
const fieldsOf = (masked: Masked[]) => masked.map((m) => m.field).sort();
const ids = (rows: { id: string }[]) => rows.map((r) => r.id).sort();

/** The person under test, as the owner reads them straight from the tables. */
interface Subject {
  personId: string;
  attendeeId: string;
  name: string;
  email: string;
  phone: string;
  ageRange: string;
  company: string;
  webPresence: string;
  northwindOrders: string[];
  allOrders: string[];
  northwindRelationships: number;
  allRelationships: number;
  ticketTypes: string[];
}

/** What every caller saw in one state. */
interface Views {
  insightsList: Connection<InsightsNode>;
  insightsListStatements: number;
  insightsDirect: InsightsNode | null;
  marketingList: Connection<MarketingNode>;
  marketingListStatements: number;
  marketingDirect: MarketingNode | null;
  marketingAudience: string[];
  support: SupportNode | null;
  breakdowns: { age: Bucket[]; tickets: Bucket[] };
}

describe.each(DATABASE_KINDS)('consent and opt-outs, one state at a time, over HTTP (%s)', (kind) => {
  let database: TestDatabase;
  let keys: TestKeys;
  let gateway: TestGateway;
  let subject: Subject;
  let neutral: Views;
  /** People per bucket in the neutral state, counted by hand from the tables (before the minimum group). */
  let neutralPeople: { age: Map<string, number>; tickets: Map<string, number> };
  const tokens = {} as Record<'insights' | 'marketing' | 'support' | 'analyst' | 'officer' | 'self', { token: string; purpose: string }>;

  async function post<T>(caller: keyof typeof tokens, query: string, variables: Record<string, unknown> = {}) {
    const { token, purpose } = tokens[caller];
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}`, 'x-purpose': purpose },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    const body = JSON.parse(text) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    return { status: response.status, text, body };
  }

  /** The data of a request that must succeed; any error fails the test with the gateway's message. */
  async function read<T>(caller: keyof typeof tokens, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await post<T>(caller, query, variables);
    expect(response.body.errors, `${caller}: ${query.slice(0, 40)}`).toBeUndefined();
    expect(response.status).toBe(200);
    return response.body.data!;
  }

  async function counted<T>(caller: keyof typeof tokens, query: string): Promise<{ data: T; statements: number }> {
    const before = database.app.statements.count;
    const data = await read<T>(caller, query);
    return { data, statements: database.app.statements.count - before };
  }

  async function views(): Promise<Views> {
    const id = subject.attendeeId;
    const insights = await counted<{ attendees: Connection<InsightsNode> }>('insights', INSIGHTS_LIST);
    const insightsDirect = await read<{ attendee: InsightsNode | null }>('insights', INSIGHTS_DIRECT, { id });
    const marketing = await counted<{ attendees: Connection<MarketingNode> }>('marketing', MARKETING_LIST);
    const marketingDirect = await read<{ attendee: MarketingNode | null }>('marketing', MARKETING_DIRECT, { id });
    const audience = await read<{ marketingAudience: Connection<{ emailSha256: string }> }>('marketing', MARKETING_AUDIENCE);
    const support = await read<{ attendee: SupportNode | null }>('support', SUPPORT_DIRECT, { id });
    const breakdowns = await read<{ age: Bucket[]; tickets: Bucket[] }>('analyst', BREAKDOWNS);
    // A page cut at 500 would make "absent from the list" meaningless.
    for (const page of [insights.data.attendees, marketing.data.attendees, audience.marketingAudience]) expect(page.pageInfo.hasNextPage).toBe(false);
    return {
      insightsList: insights.data.attendees,
      insightsListStatements: insights.statements,
      insightsDirect: insightsDirect.attendee,
      marketingList: marketing.data.attendees,
      marketingListStatements: marketing.statements,
      marketingDirect: marketingDirect.attendee,
      marketingAudience: audience.marketingAudience.edges.map((e) => e.node.emailSha256),
      support: support.attendee,
      breakdowns: { age: sortBuckets(breakdowns.age), tickets: sortBuckets(breakdowns.tickets) },
    };
  }

  const sortBuckets = (buckets: Bucket[]) => [...buckets].sort((a, b) => a.value.localeCompare(b.value));
  const nodeOf = <Node extends { id: string }>(list: Connection<Node>) => list.edges.find((e) => e.node.id === subject.attendeeId)?.node;
  const othersOf = <Node extends { id: string }>(list: Connection<Node>) => list.edges.filter((e) => e.node.id !== subject.attendeeId);
  // A relationship is about both its ends: whether the other end still shows one with a hidden
  // person is a separate question (asked below for enrichment), so other people compare without them.
  const apartFromRelationships = (edges: { node: InsightsNode }[]) => edges.map(({ node: { relationships: _hidden, ...rest } }) => rest);

  /** Buckets as POLICY.md says they must show: people once each, no count under the minimum group. */
  /** What POLICY.md lets analytics see of these counts, with one person fewer in each `leaveOut` bucket. */
  function shown(people: Map<string, number>, leaveOut: readonly string[] = []): Bucket[] {
    const left = new Map([...people].map(([value, count]) => [value, count - (leaveOut.includes(value) ? 1 : 0)]));
    return sortBuckets(expectedBuckets(left, MINIMUM_GROUP));
  }

  /**
   * POLICY.md counts people, each once per bucket, and leaves out people who are restricted or who
   * object. Written against the tables as the owner, independent of the gateway's query.
   */
  async function peoplePerBucket() {
    const db = database.owner.db;
    const age = await sql<{ value: string; people: number }>`
      select p.age_range as value, count(distinct p.id)::int as people
      from people p join consents c on c.person_id = p.id
      where p.age_range is not null and not c.restricted and not c.objection
        and exists (select 1 from attendees a where a.person_id = p.id)
      group by 1`.execute(db);
    const tickets = await sql<{ value: string; people: number }>`
      select t.type as value, count(distinct a.person_id)::int as people
      from tickets t
      join orders o on o.tenant_id = t.tenant_id and o.id = t.order_id
      join attendees a on a.tenant_id = o.tenant_id and a.id = o.attendee_id
      join consents c on c.person_id = a.person_id
      where not c.restricted and not c.objection
      group by 1`.execute(db);
    return {
      age: new Map(age.rows.map((r) => [r.value, Number(r.people)])),
      tickets: new Map(tickets.rows.map((r) => [r.value, Number(r.people)])),
    };
  }

  async function findSubject(): Promise<Subject> {
    const db = database.owner.db;
    const candidates = await db
      .selectFrom('people as p')
      .innerJoin('consents as c', 'c.person_id', 'p.id')
      .innerJoin('enrichments as en', 'en.person_id', 'p.id')
      .innerJoin('attendees as a', (j) => j.onRef('a.person_id', '=', 'p.id').on('a.tenant_id', '=', TENANT))
      .select(['p.id', 'p.name', 'p.email', 'p.phone', 'p.age_range', 'en.company', 'en.web_presence', 'a.id as attendeeId'])
      .where('c.marketing', '=', true)
      .where('c.enrichment', '=', true)
      .where('c.do_not_sell', '=', false)
      .where('c.restricted', '=', false)
      .where('c.objection', '=', false)
      .where('en.company', 'is not', null)
      .where('en.web_presence', 'is not', null)
      .where('p.age_range', 'is not', null)
      .where('p.phone', 'is not', null)
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('relationships as r')
            .select(eb.lit(1).as('one'))
            .whereRef('r.tenant_id', '=', 'a.tenant_id')
            .where((w) => w.or([w('r.from_attendee_id', '=', w.ref('a.id')), w('r.to_attendee_id', '=', w.ref('a.id'))])),
        ),
      )
      .where((eb) =>
        eb.exists(eb.selectFrom('orders as o').select(eb.lit(1).as('one')).whereRef('o.tenant_id', '=', 'a.tenant_id').whereRef('o.attendee_id', '=', 'a.id')),
      )
      .orderBy('p.id')
      .execute();
    const row = candidates[0];
    if (row === undefined) throw new Error('the demo data has no neutral northwind person with enrichment, a relationship and orders');
    const orders = await db
      .selectFrom('orders as o')
      .innerJoin('attendees as a', (j) => j.onRef('a.tenant_id', '=', 'o.tenant_id').onRef('a.id', '=', 'o.attendee_id'))
      .select(['o.id', 'o.tenant_id'])
      .where('a.person_id', '=', row.id)
      .execute();
    const relationships = await sql<{ tenant_id: string }>`
      select r.tenant_id from relationships r join attendees a on a.tenant_id = r.tenant_id
        and (a.id = r.from_attendee_id or a.id = r.to_attendee_id)
      where a.person_id = ${row.id}`.execute(db);
    const ticketTypes = await sql<{ type: string }>`
      select distinct t.type from tickets t
      join orders o on o.tenant_id = t.tenant_id and o.id = t.order_id
      join attendees a on a.tenant_id = o.tenant_id and a.id = o.attendee_id
      where a.person_id = ${row.id}`.execute(db);
    return {
      personId: row.id,
      attendeeId: row.attendeeId,
      name: row.name!,
      email: row.email!,
      phone: row.phone!,
      ageRange: row.age_range!,
      company: row.company!,
      webPresence: row.web_presence!,
      northwindOrders: orders.filter((o) => o.tenant_id === TENANT).map((o) => o.id).sort(),
      allOrders: orders.map((o) => o.id).sort(),
      northwindRelationships: relationships.rows.filter((r) => r.tenant_id === TENANT).length,
      allRelationships: relationships.rows.length,
      ticketTypes: ticketTypes.rows.map((r) => r.type).sort(),
    };
  }

  /** Changes the person's state the way a privacy officer would, and checks the state reported back. */
  async function setConsent(input: Partial<typeof NEUTRAL_CONSENT>) {
    const data = await read<{ setConsent: typeof NEUTRAL_CONSENT }>('officer', SET_CONSENT, { id: subject.personId, input });
    return data.setConsent;
  }
  async function restrict(restricted: boolean) {
    const data = await read<{ restrictProcessing: typeof NEUTRAL_CONSENT }>('officer', RESTRICT, { id: subject.personId, restricted });
    return data.restrictProcessing;
  }
  async function personAs(caller: 'officer' | 'self'): Promise<PersonView> {
    if (caller === 'officer') {
      return (await read<{ dataSubject: PersonView }>('officer', `query($id: ID!) { dataSubject(personId: $id) { ${PERSON_FIELDS} } }`, { id: subject.personId }))
        .dataSubject;
    }
    return (await read<{ me: PersonView }>('self', `{ me { ${PERSON_FIELDS} } }`)).me;
  }

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    keys = await createTestKeys();
    gateway = await startTestGateway({ database: database.app, auth: keys.auth });
    subject = await findSubject();
    const sign = (roles: string[], purpose: string, extra: { tenant?: string; sub?: string } = {}) =>
      keys.sign({ roles, purposes: [purpose], ttl: '30m', ...extra }).then((token) => ({ token, purpose }));
    tokens.insights = await sign(['organizer_admin'], 'audience-insights', { tenant: TENANT });
    tokens.marketing = await sign(['organizer_admin'], 'marketing', { tenant: TENANT });
    tokens.support = await sign(['support_agent'], 'customer-support');
    tokens.analyst = await sign(['analyst'], 'analytics');
    tokens.officer = await sign(['privacy_officer'], 'legal-compliance');
    tokens.self = await sign(['data_subject'], 'self-service', { sub: subject.personId });
    neutralPeople = await peoplePerBucket();
    neutral = await views();
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  /** Every personal field the audience-insights queries select, and what POLICY.md masks of them. */
  function expectFullyMasked(node: InsightsNode | undefined | null, reason: string) {
    expect(node, 'the person is read, masked').toBeTruthy();
    const n = node!;
    expect({ name: n.name, email: n.email, company: n.company, jobTitle: n.jobTitle, industry: n.industry, webPresence: n.webPresence, consent: n.consent }).toEqual({
      name: null,
      email: null,
      company: null,
      jobTitle: null,
      industry: null,
      webPresence: null,
      consent: null,
    });
    expect(n.orders).toEqual([]);
    expect(n.relationships).toEqual([]);
    expect(fieldsOf(n.masked)).toEqual(expect.arrayContaining(['company', 'consent', 'email', 'industry', 'jobTitle', 'name', 'orders', 'relationships', 'webPresence']));
    expect(reasonsOf(n.masked)).toEqual(new Set([reason]));
  }

  function expectMarketingMasked(node: MarketingNode | null | undefined, reason: string) {
    expect(node, 'a direct read answers, masked').toBeTruthy();
    expect(node!.email).toBeNull();
    expect(node!.consent).toBeNull();
    expect(fieldsOf(node!.masked)).toEqual(expect.arrayContaining(['consent', 'email']));
    expect(reasonsOf(node!.masked)).toEqual(new Set([reason]));
  }

  describe('neutral state (the positive control every state is compared with)', () => {
    it('audience-insights lists the person unmasked, with enrichment, relationships and orders', () => {
      const node = nodeOf(neutral.insightsList);
      expect(node).toEqual({
        id: subject.attendeeId,
        name: subject.name,
        email: subject.email,
        company: subject.company,
        jobTitle: expect.any(String),
        industry: expect.any(String),
        webPresence: expect.any(String),
        relationships: expect.any(Array),
        consent: { marketing: true },
        orders: expect.any(Array),
        masked: [],
      });
      expect(node!.relationships).toHaveLength(subject.northwindRelationships);
      expect(subject.northwindRelationships).toBeGreaterThan(0);
      expect(ids(node!.orders)).toEqual(subject.northwindOrders);
      expect(neutral.insightsDirect).toEqual(node);
    });

    it('marketing lists the person with a hashed email, and the audience holds their hash', () => {
      const node = nodeOf(neutral.marketingList);
      expect(node).toEqual({ id: subject.attendeeId, email: sha256(subject.email), consent: { marketing: true }, masked: [] });
      expect(neutral.marketingDirect).toEqual(node);
      expect(neutral.marketingAudience).toContain(sha256(subject.email));
    });

    it('support reads the person with a partial phone and their orders', () => {
      expect(neutral.support).toEqual({
        name: subject.name,
        email: subject.email,
        phone: `***-${subject.phone.replace(/\D/g, '').slice(-4)}`,
        orders: expect.any(Array),
        masked: [{ field: 'phone', reason: 'PARTIAL' }],
      });
      expect(ids(neutral.support!.orders)).toEqual(subject.northwindOrders);
    });

    it('analytics counts people once per bucket and hides counts under 5', () => {
      // The person's buckets must be big enough that their leaving shows as a change of count.
      expect(neutralPeople.age.get(subject.ageRange)).toBeGreaterThan(MINIMUM_GROUP);
      for (const type of subject.ticketTypes) expect(neutralPeople.tickets.get(type)).toBeGreaterThan(MINIMUM_GROUP);
      expect(neutral.breakdowns.age, 'AGE_RANGE').toEqual(shown(neutralPeople.age));
      expect(neutral.breakdowns.tickets, 'TICKET_TYPE').toEqual(shown(neutralPeople.tickets));
    });

    it('the organizer response carries the name and email (so their absence later means something)', async () => {
      const response = await post('insights', INSIGHTS_BOTH, { id: subject.attendeeId });
      expect(response.text).toContain(subject.name);
      expect(response.text).toContain(subject.email);
    });

    it('another attendee\'s relationships point at the person', async () => {
      const ends = await read<{ attendees: Connection<{ id: string; relationships: { attendee: { id: string } | null }[] }> }>('insights', RELATIONSHIP_ENDS);
      const pointing = othersOf(ends.attendees).filter((e) => e.node.relationships.some((r) => r.attendee?.id === subject.attendeeId));
      expect(pointing.length).toBeGreaterThan(0);
    });
  });

  describe('opted out of enrichment', () => {
    let now: Views;
    beforeAll(async () => {
      expect(await setConsent({ enrichment: false })).toEqual({ ...NEUTRAL_CONSENT, enrichment: false });
      now = await views();
    });
    afterAll(async () => {
      expect(await setConsent({ enrichment: true })).toEqual(NEUTRAL_CONSENT);
    });

    it('audience-insights: enrichment masked (ENRICHMENT_OPT_OUT), relationships hidden, the rest as before', () => {
      const before = nodeOf(neutral.insightsList)!;
      const node = nodeOf(now.insightsList);
      expect(node).toEqual({ ...before, company: null, jobTitle: null, industry: null, webPresence: null, relationships: [], masked: expect.any(Array) });
      expect(byField(node!.masked)).toEqual(
        byField([...ENRICHMENT_FIELDS, 'relationships'].map((field) => ({ field, reason: 'ENRICHMENT_OPT_OUT' }))),
      );
      expect(now.insightsDirect).toEqual(node);
      expect(apartFromRelationships(othersOf(now.insightsList))).toEqual(apartFromRelationships(othersOf(neutral.insightsList)));
    });

    it('audience-insights: no other attendee\'s relationships lead to the person either', async () => {
      const ends = await read<{ attendees: Connection<{ id: string; relationships: { attendee: { id: string } | null }[] }> }>('insights', RELATIONSHIP_ENDS);
      const pointing = othersOf(ends.attendees).filter((e) => e.node.relationships.some((r) => r.attendee?.id === subject.attendeeId));
      expect(pointing.map((e) => e.node.id)).toEqual([]);
    });

    it('the masked list read costs the same statements as the neutral one', () => {
      expect(now.insightsListStatements).toBe(neutral.insightsListStatements);
    });

    it('support, marketing and analytics are unchanged', () => {
      expect(now.support).toEqual(neutral.support);
      expect(now.marketingList).toEqual(neutral.marketingList);
      expect(now.marketingDirect).toEqual(neutral.marketingDirect);
      expect(now.marketingAudience).toEqual(neutral.marketingAudience);
      expect(now.breakdowns).toEqual(neutral.breakdowns);
    });
  });

  describe.each([
    ['no marketing consent', { marketing: false }, 'NO_MARKETING_CONSENT'],
    ['do-not-sell', { doNotSell: true }, 'DO_NOT_SELL'],
  ] as const)('%s', (_state, input, reason) => {
    let now: Views;
    beforeAll(async () => {
      expect(await setConsent(input)).toEqual({ ...NEUTRAL_CONSENT, ...input });
      now = await views();
    });
    afterAll(async () => {
      const undo = 'marketing' in input ? { marketing: true } : { doNotSell: false };
      expect(await setConsent(undo)).toEqual(NEUTRAL_CONSENT);
    });

    it('marketing: left out of the audience and the list, everyone else as before', () => {
      expect(now.marketingAudience).not.toContain(sha256(subject.email));
      expect(now.marketingAudience).toEqual(neutral.marketingAudience.filter((hash) => hash !== sha256(subject.email)));
      expect(nodeOf(now.marketingList)).toBeUndefined();
      expect(now.marketingList.edges).toEqual(othersOf(neutral.marketingList));
    });

    it(`marketing: a direct read is masked (${reason})`, () => {
      expectMarketingMasked(now.marketingDirect, reason);
      expect(now.marketingDirect!.id).toBe(subject.attendeeId);
    });

    it('the marketing list read costs the same statements as the neutral one', () => {
      expect(now.marketingListStatements).toBe(neutral.marketingListStatements);
    });

    it('audience-insights, support and analytics are unchanged (but for the consent state itself)', () => {
      const before = nodeOf(neutral.insightsList)!;
      const consent = 'marketing' in input ? { marketing: false } : before.consent;
      expect(nodeOf(now.insightsList)).toEqual({ ...before, consent });
      expect(othersOf(now.insightsList)).toEqual(othersOf(neutral.insightsList));
      expect(now.insightsDirect).toEqual({ ...before, consent });
      expect(now.support).toEqual(neutral.support);
      expect(now.breakdowns).toEqual(neutral.breakdowns);
    });
  });

  describe('processing restricted', () => {
    let now: Views;
    beforeAll(async () => {
      expect(await restrict(true)).toEqual({ ...NEUTRAL_CONSENT, restricted: true });
      now = await views();
    });
    afterAll(async () => {
      expect(await restrict(false)).toEqual(NEUTRAL_CONSENT);
    });

    it('audience-insights: left out of the list, every personal field masked (PROCESSING_RESTRICTED) read directly', () => {
      // Insights leaves objecting people out of its lists; a restricted person listed there would
      // show by their presence that they do not object, which their masks withhold. So restricted
      // people are left out of every list that leaves anyone out.
      expect(nodeOf(now.insightsList)).toBeUndefined();
      expectFullyMasked(now.insightsDirect, 'PROCESSING_RESTRICTED');
      expect(apartFromRelationships(othersOf(now.insightsList))).toEqual(apartFromRelationships(othersOf(neutral.insightsList)));
    });

    it('the masked list read costs the same statements as the neutral one', () => {
      expect(now.insightsListStatements).toBe(neutral.insightsListStatements);
    });

    it('the organizer response holds neither the name nor the email anywhere (masked before it left the database)', async () => {
      const response = await post('insights', INSIGHTS_BOTH, { id: subject.attendeeId });
      expect(response.body.errors).toBeUndefined();
      expect(response.text).toContain(subject.attendeeId);
      expect(response.text).not.toContain(subject.name);
      expect(response.text.toLowerCase()).not.toContain(subject.email.toLowerCase());
      // Company names repeat across people; the profile URL is this person's alone.
      expect(response.text).not.toContain(subject.webPresence);
    });

    it('marketing: no hashed identifier, and not readable through the list or directly', () => {
      expect(now.marketingAudience).toEqual(neutral.marketingAudience.filter((hash) => hash !== sha256(subject.email)));
      // POLICY.md masks a restricted person rather than dropping them from lists; either way their
      // email (hashed) must not be there.
      const listed = nodeOf(now.marketingList);
      if (listed !== undefined) expectMarketingMasked(listed, 'PROCESSING_RESTRICTED');
      expect(JSON.stringify(now.marketingList)).not.toContain(sha256(subject.email));
      expectMarketingMasked(now.marketingDirect, 'PROCESSING_RESTRICTED');
    });

    it('support (an essential purpose) sees the person masked too', () => {
      const node = now.support;
      expect(node).toEqual({ name: null, email: null, phone: null, orders: [], masked: expect.any(Array) });
      expect(fieldsOf(node!.masked)).toEqual(expect.arrayContaining(['email', 'name', 'orders', 'phone']));
      expect(reasonsOf(node!.masked)).toEqual(new Set(['PROCESSING_RESTRICTED']));
    });

    it('analytics leaves the person out: one person fewer in each of their buckets', () => {
      expect(now.breakdowns.age, 'AGE_RANGE').toEqual(shown(neutralPeople.age, [subject.ageRange]));
      expect(now.breakdowns.tickets, 'TICKET_TYPE').toEqual(shown(neutralPeople.tickets, subject.ticketTypes));
      expect(now.breakdowns).not.toEqual(neutral.breakdowns);
    });

    it.each(['officer', 'self'] as const)('%s still sees everything (legal-compliance, self-service)', async (caller) => {
      const person = await personAs(caller);
      expect(person).toMatchObject({
        id: subject.personId,
        name: subject.name,
        email: subject.email,
        phone: subject.phone,
        company: subject.company,
        jobTitle: expect.any(String),
        consent: { restricted: true },
        masked: [],
      });
      expect(person.attendances.flatMap((a) => a.orders.map((o) => o.id)).sort()).toEqual(subject.allOrders);
      expect(person.attendances.flatMap((a) => a.relationships)).toHaveLength(subject.allRelationships);
    });
  });

  describe('objected to processing', () => {
    let now: Views;
    beforeAll(async () => {
      expect(await setConsent({ objection: true })).toEqual({ ...NEUTRAL_CONSENT, objection: true });
      now = await views();
    });
    afterAll(async () => {
      expect(await setConsent({ objection: false })).toEqual(NEUTRAL_CONSENT);
    });

    it('audience-insights: left out of the list; a direct read is masked (OBJECTION)', () => {
      expect(nodeOf(now.insightsList)).toBeUndefined();
      expect(apartFromRelationships(now.insightsList.edges)).toEqual(apartFromRelationships(othersOf(neutral.insightsList)));
      expectFullyMasked(now.insightsDirect, 'OBJECTION');
    });

    it('list reads cost the same statements as the neutral ones', () => {
      expect(now.insightsListStatements).toBe(neutral.insightsListStatements);
      expect(now.marketingListStatements).toBe(neutral.marketingListStatements);
    });

    it('marketing: left out of the audience and the list; a direct read is masked (OBJECTION)', () => {
      expect(now.marketingAudience).toEqual(neutral.marketingAudience.filter((hash) => hash !== sha256(subject.email)));
      expect(now.marketingList.edges).toEqual(othersOf(neutral.marketingList));
      expectMarketingMasked(now.marketingDirect, 'OBJECTION');
    });

    it('analytics leaves the person out: one person fewer in each of their buckets', () => {
      expect(now.breakdowns.age, 'AGE_RANGE').toEqual(shown(neutralPeople.age, [subject.ageRange]));
      expect(now.breakdowns.tickets, 'TICKET_TYPE').toEqual(shown(neutralPeople.tickets, subject.ticketTypes));
      expect(now.breakdowns).not.toEqual(neutral.breakdowns);
    });

    it('support (an essential purpose) is unaffected', () => {
      expect(now.support).toEqual(neutral.support);
    });
  });

  describe('back in the neutral state', () => {
    it('every caller sees exactly what they saw before any change', async () => {
      const now = await views();
      expect(now).toEqual(neutral);
      expect(await personAs('officer')).toMatchObject({ consent: { restricted: false }, masked: [] });
    });
  });
});
