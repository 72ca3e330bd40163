import { createHash, randomUUID } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import { describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../src/auth/token-verifier.js';
import { withScope } from '../src/db/request-scope.js';
import { createLogger } from '../src/logger.js';
import { loadPolicyFile } from '../src/policy/policy.js';
import { createGateway, listen } from '../src/server.js';
import { DATABASE_KINDS, demoData } from './support/test-database.js';
import { type GraphQLResponse, POLICY_FILE, gatewayFixture } from './support/test-gateway.js';
import { type TokenClaimsInput } from './support/test-keys.js';

const TENANT = 'northwind-live';

interface LogRow {
  seq: string;
  at: Date;
  actor: string;
  role: string;
  tenant_id: string | null;
  purpose: string;
  operation_name: string | null;
  request_id: string;
  token_id: string | null;
  subjects: string[];
  fields: string[];
  masked: string[];
  exposure: Record<string, string[]>;
  outcome: string;
  error_code: string | null;
  correlation_id: string | null;
  masked_by_subject: Record<string, string[]>;
  aggregates: string[];
}

interface Sent<T> {
  status: number;
  body: GraphQLResponse<T>['body'];
  requestId: string;
  echoedRequestId: string | null;
  /** Entries the request added, in seq order. */
  entries: LogRow[];
}

interface Caller {
  token: string;
  sub: string;
  jti: string;
  claims: TokenClaimsInput;
}

interface LogNode {
  id: string;
  at: string;
  actor: string;
  role: string;
  tenant: string | null;
  purpose: string;
  tokenId: string | null;
  subjects: string[];
  fields: string[];
  outcome: string;
}
interface LogPage {
  accessLog: { edges: { cursor: string; node: LogNode }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const LOG_NODE = 'id at actor role tenant purpose tokenId subjects fields outcome';
const sorted = (values: readonly string[]) => [...values].sort();

describe.each(DATABASE_KINDS)('the access log (%s)', (kind) => {
  const fixture = gatewayFixture(kind);
  let requests = 0;
  let tokens = 0;

  // RLS on access_log is forced, so even the owner reads it only in the maintenance scope.
  const ownerLog = (where: RawBuilder<boolean>): Promise<LogRow[]> =>
    withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) =>
      trx
        .selectFrom('access_log')
        .select([
          sql<string>`seq::text`.as('seq'),
          'at',
          'actor',
          'role',
          'tenant_id',
          'purpose',
          'operation_name',
          'request_id',
          'token_id',
          'subjects',
          'fields',
          'masked',
          'exposure',
          'outcome',
          'error_code',
          'correlation_id',
          'masked_by_subject',
          'aggregates',
        ])
        .where(where)
        .orderBy('at', 'desc')
        .orderBy('seq', 'desc')
        .execute(),
    );

  const headSeq = async (): Promise<string> =>
    withScope(fixture.database.owner.db, { kind: 'maintenance' }, async (trx) => {
      const row = await sql<{ seq: string }>`select coalesce(max(seq), 0)::text as seq from access_log`.execute(trx);
      return row.rows[0]!.seq;
    });

  async function caller(claims: Partial<TokenClaimsInput> & { roles: string[] }): Promise<Caller> {
    tokens += 1;
    const full: TokenClaimsInput = { sub: `${claims.roles[0]}-${kind}-${tokens}`, jti: `jti-${kind}-${tokens}`, ...claims };
    return { token: await fixture.keys.sign(full), sub: full.sub!, jti: full.jti!, claims: full };
  }

  /** One request over HTTP, with the log entries it added (read by seq, as the owner). */
  async function send<T = Record<string, unknown>>(options: {
    query: string;
    variables?: Record<string, unknown>;
    as?: Caller;
    token?: string;
    purpose?: string;
    operationName?: string;
  }): Promise<Sent<T>> {
    requests += 1;
    const requestId = `test-${requests}`;
    const before = await headSeq();
    const token = options.token ?? options.as?.token;
    const response = await fetch(fixture.gateway.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'x-request-id': requestId,
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(options.purpose === undefined ? {} : { 'x-purpose': options.purpose }),
      },
      body: JSON.stringify({ query: options.query, variables: options.variables, operationName: options.operationName }),
    });
    const body = (await response.json()) as GraphQLResponse<T>['body'];
    const entries = (await ownerLog(sql<boolean>`seq > ${before}::bigint`)).reverse();
    return { status: response.status, body, requestId, echoedRequestId: response.headers.get('x-request-id'), entries };
  }

  /**
   * Exactly one entry, carrying the gateway's own request id (the one it answered with), the
   * caller's X-Request-Id beside it as the correlation id, and the caller's token.
   */
  function onlyEntry(sent: Sent<unknown>, who: Caller): LogRow {
    expect(sent.entries, JSON.stringify(sent.body)).toHaveLength(1);
    const entry = sent.entries[0]!;
    expect(entry.request_id).toBe(sent.echoedRequestId);
    expect(entry.request_id).not.toBe(sent.requestId);
    expect(entry.correlation_id).toBe(sent.requestId);
    expect(entry.actor).toBe(who.sub);
    expect(entry.role).toBe(who.claims.roles[0]);
    expect(entry.token_id).toBe(who.jti);
    return entry;
  }

  async function attendeeRows(tenant: string) {
    return fixture.database.owner.db
      .selectFrom('attendees')
      .innerJoin('people', 'people.id', 'attendees.person_id')
      .innerJoin('consents', 'consents.person_id', 'attendees.person_id')
      .select(['attendees.id', 'attendees.person_id', 'people.email', 'consents.restricted'])
      .where('attendees.tenant_id', '=', tenant)
      .orderBy('attendees.person_id')
      .execute();
  }

  async function personOfAttendees(tenant: string, ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await fixture.database.owner.db
      .selectFrom('attendees')
      .select('person_id')
      .where('tenant_id', '=', tenant)
      .where('id', 'in', ids)
      .execute();
    return sorted(rows.map((r) => r.person_id!));
  }

  /** An unrestricted attendee of the tenant who holds an order with tickets. */
  async function attendeeWithOrders(tenant: string, skip = 0): Promise<{ id: string; personId: string }> {
    const rows = await fixture.database.owner.db
      .selectFrom('attendees')
      .innerJoin('consents', 'consents.person_id', 'attendees.person_id')
      .innerJoin('people', 'people.id', 'attendees.person_id')
      .select(['attendees.id', 'attendees.person_id'])
      .where('attendees.tenant_id', '=', tenant)
      .where('consents.restricted', '=', false)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom('orders')
            .innerJoin('tickets', (j) => j.onRef('tickets.tenant_id', '=', 'orders.tenant_id').onRef('tickets.order_id', '=', 'orders.id'))
            .select('orders.id')
            .whereRef('orders.tenant_id', '=', 'attendees.tenant_id')
            .whereRef('orders.attendee_id', '=', 'attendees.id'),
        ),
      )
      .orderBy('attendees.person_id')
      .execute();
    const row = rows[skip]!;
    return { id: row.id, personId: row.person_id! };
  }

  async function restrictedAttendee(tenant: string): Promise<{ id: string; personId: string }> {
    const row = (await attendeeRows(tenant)).find((r) => r.restricted);
    expect(row, 'the demo data holds a restricted person in this tenant').toBeDefined();
    return { id: row!.id, personId: row!.person_id! };
  }

  describe('completeness: one entry per request that reads personal data', () => {
    it('a list of 20+ attendees: one entry naming every person and the fields returned', async () => {
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send<{ attendees: { edges: { node: { name: string | null; email: string | null } }[] } }>({
        query: 'query ListAttendees { attendees(first: 500) { edges { node { name email } } } }',
        as: admin,
        purpose: 'ticketing',
      });
      expect(sent.status).toBe(200);
      expect(sent.body.errors).toBeUndefined();
      const everyone = await attendeeRows(TENANT);
      expect(sent.body.data!.attendees.edges.length).toBeGreaterThanOrEqual(20);
      expect(sent.body.data!.attendees.edges).toHaveLength(everyone.length);
      const entry = onlyEntry(sent, admin);
      expect(entry).toMatchObject({ tenant_id: TENANT, purpose: 'ticketing', operation_name: 'ListAttendees', outcome: 'ALLOWED', error_code: null });
      expect(sorted(entry.subjects)).toEqual(sorted(everyone.map((r) => r.person_id!)));
      expect(sorted(entry.fields)).toEqual(['Attendee.email', 'Attendee.name']);
    });

    it('the ids returned are the people recorded', async () => {
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send<{ attendees: { edges: { node: { id: string } }[] } }>({
        query: '{ attendees(first: 7) { edges { node { id name } } } }',
        as: admin,
        purpose: 'ticketing',
      });
      const ids = sent.body.data!.attendees.edges.map((e) => e.node.id);
      expect(ids).toHaveLength(7);
      const entry = onlyEntry(sent, admin);
      expect(entry.operation_name).toBeNull();
      expect(sorted(entry.subjects)).toEqual(await personOfAttendees(TENANT, ids));
      expect(sorted(entry.fields)).toEqual(['Attendee.id', 'Attendee.name']);
    });

    it('one attendee with nested orders and tickets records Order.* and Ticket.* for that person', async () => {
      const target = await attendeeWithOrders(TENANT);
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send<{ attendee: { orders: { tickets: unknown[] }[] } }>({
        query: 'query One($id: ID!) { attendee(id: $id) { name orders { id totalCents tickets { id type } } } }',
        variables: { id: target.id },
        as: admin,
        purpose: 'ticketing',
      });
      expect(sent.body.errors).toBeUndefined();
      expect(sent.body.data!.attendee.orders.flatMap((o) => o.tickets).length).toBeGreaterThan(0);
      const entry = onlyEntry(sent, admin);
      expect(entry).toMatchObject({ operation_name: 'One', outcome: 'ALLOWED', tenant_id: TENANT, purpose: 'ticketing' });
      expect(entry.subjects).toEqual([target.personId]);
      expect(sorted(entry.fields)).toEqual([
        'Attendee.name',
        'Attendee.orders',
        'Order.id',
        'Order.tickets',
        'Order.totalCents',
        'Ticket.id',
        'Ticket.type',
      ]);
    });

    it.each([
      ['aliases', '{ attendee(id: $id) { a: name b: email } }', ['Attendee.email', 'Attendee.name']],
      ['a named fragment', '{ attendee(id: $id) { ...Who } } fragment Who on Attendee { name }', ['Attendee.name']],
      ['an inline fragment', '{ attendee(id: $id) { ... on Attendee { email } } }', ['Attendee.email']],
      ['an interface fragment', '{ attendee(id: $id) { ... on Person { name } } }', ['Attendee.name']],
    ])('%s record the real field names', async (_label, body, fields) => {
      const target = await attendeeWithOrders(TENANT, 1);
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send({ query: `query Q($id: ID!) ${body}`, variables: { id: target.id }, as: admin, purpose: 'ticketing' });
      expect(sent.body.errors).toBeUndefined();
      const entry = onlyEntry(sent, admin);
      expect(entry.subjects).toEqual([target.personId]);
      expect(sorted(entry.fields)).toEqual(fields);
      expect(entry.outcome).toBe('ALLOWED');
    });

    it('door staff reading a partial email: masked records Attendee.email:PARTIAL', async () => {
      const target = await attendeeWithOrders(TENANT);
      const staff = await caller({ roles: ['organizer_staff'], tenant: TENANT });
      const sent = await send<{ attendee: { email: string } }>({
        query: 'query($id: ID!) { attendee(id: $id) { name email } }',
        variables: { id: target.id },
        as: staff,
        purpose: 'event-checkin',
      });
      expect(sent.body.data!.attendee.email).toContain('***@');
      const entry = onlyEntry(sent, staff);
      expect(entry).toMatchObject({ purpose: 'event-checkin', tenant_id: TENANT, outcome: 'ALLOWED' });
      expect(entry.masked).toContain('Attendee.email:PARTIAL');
      expect(entry.subjects).toEqual([target.personId]);
    });

    it('a restricted person: masked records Attendee.name:PROCESSING_RESTRICTED', async () => {
      const restricted = await restrictedAttendee(TENANT);
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send<{ attendee: { name: string | null } }>({
        query: 'query($id: ID!) { attendee(id: $id) { name email } }',
        variables: { id: restricted.id },
        as: admin,
        purpose: 'ticketing',
      });
      expect(sent.body.data!.attendee.name).toBeNull();
      const entry = onlyEntry(sent, admin);
      expect(entry.masked).toContain('Attendee.name:PROCESSING_RESTRICTED');
      expect(entry.subjects).toEqual([restricted.personId]);
      expect(entry.exposure[restricted.personId] ?? []).toEqual([]);
    });

    it('a partial error: one ERROR entry with the code, naming the person found', async () => {
      const target = await attendeeWithOrders(TENANT);
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send<{ a: { name: string } | null; b: unknown }>({
        query: `query Partial { a: attendee(id: "${target.id}") { name } b: attendee(id: "${randomUUID()}") { name } }`,
        as: admin,
        purpose: 'ticketing',
      });
      expect(sent.status).toBe(200);
      expect(sent.body.data!.a!.name).toBeTruthy();
      expect(sent.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
      const entry = onlyEntry(sent, admin);
      expect(entry).toMatchObject({ outcome: 'ERROR', error_code: 'NOT_FOUND', operation_name: 'Partial' });
      expect(entry.subjects).toEqual([target.personId]);
      expect(entry.fields).toEqual(['Attendee.name']);
    });

    it('requests that read no personal data add no entry', async () => {
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      for (const query of ['{ viewer { sub } }', '{ events { edges { node { id } } } }']) {
        const sent = await send({ query, as: admin, purpose: 'ticketing' });
        expect(sent.body.errors).toBeUndefined();
        expect(sent.entries).toEqual([]);
        // The gateway's own id, never the caller's.
        expect(sent.echoedRequestId).toMatch(/^[0-9a-f-]{36}$/);
      }
    });

    it('a refused field adds a DENIED entry naming the refused fields and nobody', async () => {
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send({ query: 'query Phones { attendees { edges { node { name phone } } } }', as: admin, purpose: 'ticketing' });
      expect(sent.status).toBe(403);
      expect(sent.body.errors?.[0]?.extensions?.code).toBe('FIELD_NOT_PERMITTED');
      const entry = onlyEntry(sent, admin);
      expect(entry).toMatchObject({ outcome: 'DENIED', error_code: 'FIELD_NOT_PERMITTED', purpose: 'ticketing', tenant_id: TENANT });
      expect(entry.fields).toEqual(sent.body.errors![0]!.extensions!.fields);
      expect(entry.fields).toEqual(['Attendee.phone']);
      expect(entry.subjects).toEqual([]);
    });

    it('a purpose the role may not declare adds a DENIED entry', async () => {
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send({ query: '{ attendees { edges { node { name } } } }', as: admin, purpose: 'analytics' });
      expect(sent.status).toBe(403);
      const entry = onlyEntry(sent, admin);
      expect(entry).toMatchObject({ outcome: 'DENIED', error_code: 'PURPOSE_NOT_PERMITTED', purpose: 'analytics', subjects: [] });
    });

    it('a missing purpose adds a DENIED entry with purpose (none)', async () => {
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send({ query: '{ attendees { edges { node { name } } } }', as: admin });
      expect(sent.status).toBe(403);
      const entry = onlyEntry(sent, admin);
      expect(entry).toMatchObject({ outcome: 'DENIED', error_code: 'PURPOSE_REQUIRED', purpose: '(none)', subjects: [] });
    });

    it('an unauthenticated request adds nothing', async () => {
      const sent = await send({ query: '{ attendees { edges { node { name } } } }', token: 'not.a.token', purpose: 'ticketing' });
      expect(sent.status).toBe(401);
      expect(sent.entries).toEqual([]);
    });

    it('setConsent and a data-subject export each add one entry about that person', async () => {
      const officer = await caller({ roles: ['privacy_officer'] });
      const person = (await attendeeWithOrders('harbor-jazz')).personId;
      const consent = await fixture.database.owner.db.selectFrom('consents').select('marketing').where('person_id', '=', person).executeTakeFirstOrThrow();
      const mutation = await send({
        query: 'mutation Consent($p: ID!, $m: Boolean!) { setConsent(personId: $p, input: { marketing: $m }) { marketing } }',
        variables: { p: person, m: consent.marketing },
        as: officer,
        purpose: 'legal-compliance',
      });
      expect(mutation.body.errors).toBeUndefined();
      const written = onlyEntry(mutation, officer);
      expect(written).toMatchObject({ operation_name: 'Consent', purpose: 'legal-compliance', outcome: 'ALLOWED', tenant_id: null });
      expect(written.subjects).toEqual([person]);
      expect(written.fields).toEqual(['ConsentState.marketing']);

      const exported = await send<{ dataSubject: { export: Record<string, unknown> } }>({
        query: 'query($p: ID!) { dataSubject(personId: $p) { export } }',
        variables: { p: person },
        as: officer,
        purpose: 'legal-compliance',
      });
      expect(exported.body.errors).toBeUndefined();
      const entry = onlyEntry(exported, officer);
      expect(entry.subjects).toEqual([person]);
      // An export records what it contained as if each field had been read (POLICY.md).
      expect(entry.fields).toEqual(
        expect.arrayContaining(['DataSubject.export', 'DataSubject.email', 'DataSubject.billingAddress', 'DataSubject.devices', 'DataSubject.supportCases']),
      );
      expect(entry.exposure[person]).toEqual(
        expect.arrayContaining(['user.contact.email', 'user.contact.address', 'user.device', 'user.communication', 'user.privacy_request']),
      );
    });

    it('marketingAudience records exactly the people whose hashes were returned', async () => {
      const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send<{ marketingAudience: { edges: { node: { emailSha256: string } }[] } }>({
        query: '{ marketingAudience(first: 500) { edges { node { emailSha256 } } } }',
        as: admin,
        purpose: 'marketing',
      });
      expect(sent.body.errors).toBeUndefined();
      const hashes = new Set(sent.body.data!.marketingAudience.edges.map((e) => e.node.emailSha256));
      expect(hashes.size).toBeGreaterThan(0);
      const hashOf = (email: string) => createHash('sha256').update(email.trim().toLowerCase()).digest('hex');
      const people = (await attendeeRows(TENANT)).filter((r) => r.email !== null && hashes.has(hashOf(r.email)));
      expect(people).toHaveLength(hashes.size);
      const entry = onlyEntry(sent, admin);
      expect(entry.purpose).toBe('marketing');
      expect(sorted(entry.subjects)).toEqual(sorted(people.map((p) => p.person_id!)));
      expect(entry.fields).toEqual(['MarketingAudienceMember.emailSha256']);
    });

    it('reading the access log is logged: accessLog and breachScope, role security_reviewer', async () => {
      const reviewer = await caller({ roles: ['security_reviewer'] });
      const log = await send<LogPage>({ query: `{ accessLog(first: 3) { edges { node { ${LOG_NODE} } } } }`, as: reviewer, purpose: 'security-audit' });
      expect(log.body.errors).toBeUndefined();
      const read = onlyEntry(log, reviewer);
      expect(read).toMatchObject({ role: 'security_reviewer', purpose: 'security-audit', outcome: 'ALLOWED' });
      expect(sorted(read.subjects)).toEqual(sorted([...new Set(log.body.data!.accessLog.edges.flatMap((e) => e.node.subjects))]));
      expect(read.fields).toContain('AccessLogEntry.subjects');

      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      // The first caller of this describe read the 20+ attendee list.
      const scope = await send<{ breachScope: { people: { personId: string }[] } }>({
        query: `{ breachScope(actor: "organizer_admin-${kind}-1", from: "${from}", to: "${to}") { entries people { personId categories reads } } }`,
        as: reviewer,
        purpose: 'security-audit',
      });
      expect(scope.body.errors).toBeUndefined();
      const found = scope.body.data!.breachScope.people.map((p) => p.personId);
      expect(found.length).toBeGreaterThanOrEqual(20);
      const scoped = onlyEntry(scope, reviewer);
      expect(scoped).toMatchObject({ role: 'security_reviewer', purpose: 'security-audit', outcome: 'ALLOWED' });
      expect(sorted(scoped.subjects)).toEqual(sorted(found));
    });

    // Query.breachScope is not on a personal type, so only BreachPerson fields reach the trail.
    it('a breachScope that returns only counts is still a read of the log, and is logged', async () => {
      const reviewer = await caller({ roles: ['security_reviewer'] });
      const from = new Date(Date.now() - 3_600_000).toISOString();
      const to = new Date(Date.now() + 60_000).toISOString();
      const scope = await send<{ breachScope: { entries: number } }>({
        query: `{ breachScope(actor: "organizer_admin-${kind}-1", from: "${from}", to: "${to}") { entries categories { category people } } }`,
        as: reviewer,
        purpose: 'security-audit',
      });
      expect(scope.body.errors).toBeUndefined();
      expect(scope.body.data!.breachScope.entries).toBeGreaterThan(0);
      expect(onlyEntry(scope, reviewer)).toMatchObject({ role: 'security_reviewer', purpose: 'security-audit' });
    });
  });

  describe('review', () => {
    const LOG_QUERY = `query Log($filter: AccessLogFilter, $first: Int, $after: String) {
      accessLog(filter: $filter, first: $first, after: $after) {
        edges { cursor node { ${LOG_NODE} } }
        pageInfo { hasNextPage endCursor }
      }
    }`;

    /** Walks every page of a filter; each page is its own request. */
    async function walk(who: Caller, purpose: string, filter: Record<string, unknown>, first: number): Promise<LogNode[]> {
      const nodes: LogNode[] = [];
      let after: string | null = null;
      for (let page = 0; page < 200; page += 1) {
        const sent: Sent<LogPage> = await send<LogPage>({ query: LOG_QUERY, variables: { filter, first, after }, as: who, purpose });
        expect(sent.body.errors).toBeUndefined();
        const connection = sent.body.data!.accessLog;
        expect(connection.edges.length).toBeLessThanOrEqual(first);
        nodes.push(...connection.edges.map((e) => e.node));
        if (!connection.pageInfo.hasNextPage) return nodes;
        after = connection.pageInfo.endCursor;
      }
      throw new Error('the walk did not end');
    }

    it('each filter returns exactly the matching entries, newest first, and pages walk them all', async () => {
      // Activity with a distinct actor and token, so some filters match a known handful.
      const admin = await caller({ roles: ['organizer_admin'], tenant: 'harbor-jazz' });
      const target = await attendeeWithOrders('harbor-jazz');
      const from = new Date();
      await new Promise((r) => setTimeout(r, 5));
      for (const purpose of ['ticketing', 'event-communication']) {
        await send({ query: `{ attendee(id: "${target.id}") { name } }`, as: admin, purpose });
      }
      await send({ query: '{ attendees { edges { node { phone } } } }', as: admin, purpose: 'ticketing' });
      await new Promise((r) => setTimeout(r, 5));
      const to = new Date();

      const reviewer = await caller({ roles: ['security_reviewer'] });
      const cases: [Record<string, unknown>, RawBuilder<boolean>][] = [
        [{ subjectId: target.personId }, sql<boolean>`subjects @> array[${target.personId}]::text[]`],
        [{ actor: admin.sub }, sql<boolean>`actor = ${admin.sub}`],
        [{ tenant: 'harbor-jazz' }, sql<boolean>`tenant_id = ${'harbor-jazz'}`],
        [{ purpose: 'event-communication' }, sql<boolean>`purpose = ${'event-communication'}`],
        [{ from: from.toISOString(), to: to.toISOString() }, sql<boolean>`at >= ${from} and at < ${to}`],
        [{ outcome: 'DENIED' }, sql<boolean>`outcome = 'DENIED'`],
        [{ tokenId: admin.jti }, sql<boolean>`token_id = ${admin.jti}`],
        [{ tokenId: admin.jti, outcome: 'ALLOWED' }, sql<boolean>`token_id = ${admin.jti} and outcome = 'ALLOWED'`],
      ];
      for (const [filter, where] of cases) {
        const expected = (await ownerLog(where)).map((r) => r.seq);
        expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
        const sent = await send<LogPage>({ query: LOG_QUERY, variables: { filter, first: 500 }, as: reviewer, purpose: 'security-audit' });
        expect(sent.body.errors, JSON.stringify(filter)).toBeUndefined();
        expect(sent.body.data!.accessLog.edges.map((e) => e.node.id), JSON.stringify(filter)).toEqual(expected);
      }
      expect((await ownerLog(sql<boolean>`actor = ${admin.sub}`)).map((r) => r.outcome).sort()).toEqual(['ALLOWED', 'ALLOWED', 'DENIED']);

      for (const [filter, where] of [cases[0]!, cases[2]!]) {
        const expected = (await ownerLog(where)).map((r) => r.seq);
        expect(expected.length).toBeGreaterThan(2);
        const walked = await walk(reviewer, 'security-audit', filter, 2);
        expect(walked.map((n) => n.id)).toEqual(expected);
        expect(new Set(walked.map((n) => n.id)).size).toBe(walked.length);
      }
    });

    it('a privacy officer reads the log one person at a time', async () => {
      const officer = await caller({ roles: ['privacy_officer'] });
      const person = (await attendeeWithOrders(TENANT)).personId;
      const expected = (await ownerLog(sql<boolean>`subjects @> array[${person}]::text[]`)).map((r) => r.seq);
      expect(expected.length).toBeGreaterThan(0);
      const sent = await send<LogPage>({ query: LOG_QUERY, variables: { filter: { subjectId: person }, first: 500 }, as: officer, purpose: 'legal-compliance' });
      expect(sent.body.errors).toBeUndefined();
      expect(sent.body.data!.accessLog.edges.map((e) => e.node.id)).toEqual(expected);

      const whole = await send({ query: LOG_QUERY, variables: { first: 5 }, as: officer, purpose: 'legal-compliance' });
      expect(whole.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(whole.body.data?.['accessLog' as never]).toBeFalsy();
    });

    it('organizers, support and analysts may not read the log or scope a breach', async () => {
      const callers: [string[], string | undefined, string][] = [
        ...['ticketing', 'event-communication', 'audience-insights', 'grant-reporting', 'marketing'].map(
          (purpose): [string[], string | undefined, string] => [['organizer_admin'], TENANT, purpose],
        ),
        [['support_agent'], undefined, 'customer-support'],
        [['analyst'], undefined, 'analytics'],
      ];
      const now = new Date().toISOString();
      for (const [roles, tenant, purpose] of callers) {
        const who = await caller({ roles, ...(tenant === undefined ? {} : { tenant }) });
        for (const [query, field] of [
          ['{ accessLog { edges { node { id actor } } } }', 'Query.accessLog'],
          [`{ breachScope(actor: "x", from: "${now}", to: "${now}") { entries } }`, 'Query.breachScope'],
        ] as const) {
          const sent = await send({ query, as: who, purpose });
          expect(sent.status, `${roles[0]} ${purpose} ${field}`).toBe(403);
          expect(sent.body.errors?.[0]?.extensions?.code).toBe('FIELD_NOT_PERMITTED');
          expect(sent.body.errors?.[0]?.extensions?.fields).toContain(field);
          expect(onlyEntry(sent, who)).toMatchObject({ outcome: 'DENIED', error_code: 'FIELD_NOT_PERMITTED' });
        }
      }
    });

    it("a person sees exactly the entries about them, in their history and their export", async () => {
      const person = (await attendeeWithOrders(TENANT)).personId;
      const self = await caller({ roles: ['data_subject'], sub: person });
      const expected = await ownerLog(sql<boolean>`subjects @> array[${person}]::text[]`);
      expect(expected.length).toBeGreaterThan(2);
      const sent = await send<{ me: { accessHistory: { edges: { node: { id: string; actor: string; purpose: string; fields: string[] } }[] } } }>({
        query: '{ me { accessHistory(first: 500) { edges { node { id actor purpose fields } } } } }',
        as: self,
        purpose: 'self-service',
      });
      expect(sent.body.errors).toBeUndefined();
      const nodes = sent.body.data!.me.accessHistory.edges.map((e) => e.node);
      expect(nodes.map((n) => n.id)).toEqual(expected.map((r) => r.seq));
      expect(nodes.map((n) => [n.actor, n.purpose, sorted(n.fields)])).toEqual(expected.map((r) => [r.actor, r.purpose, sorted(r.fields)]));
      expect(onlyEntry(sent, self)).toMatchObject({ role: 'data_subject', purpose: 'self-service', tenant_id: null });

      const before = await ownerLog(sql<boolean>`subjects @> array[${person}]::text[]`);
      const exported = await send<{ me: { export: { accessHistory: { at: string; actor: string; purpose: string }[] } } }>({
        query: '{ me { export } }',
        as: self,
        purpose: 'self-service',
      });
      expect(exported.body.errors).toBeUndefined();
      const history = exported.body.data!.me.export.accessHistory;
      expect(history.map((h) => [new Date(h.at).toISOString(), h.actor, h.purpose])).toEqual(
        before.map((r) => [r.at.toISOString(), r.actor, r.purpose]),
      );
      expect(history.some((h) => h.actor === self.sub && h.purpose === 'self-service')).toBe(true);
    });

    it("a person's history does not name the other people read in the same request", async () => {
      const person = (await attendeeWithOrders(TENANT)).personId;
      const self = await caller({ roles: ['data_subject'], sub: person });
      // The 20+ attendee list read earlier names this person among everyone else.
      const shared = await ownerLog(sql<boolean>`subjects @> array[${person}]::text[] and cardinality(subjects) > 1`);
      expect(shared.length).toBeGreaterThan(0);
      const sent = await send<{ me: { accessHistory: { edges: { node: { subjects: string[] } }[] } } }>({
        query: '{ me { accessHistory(first: 500) { edges { node { subjects } } } } }',
        as: self,
        purpose: 'self-service',
      });
      expect(sent.body.errors).toBeUndefined();
      for (const edge of sent.body.data!.me.accessHistory.edges) expect(edge.node.subjects).toEqual([person]);
      expect(onlyEntry(sent, self).subjects).toEqual([person]);
    });

    it('breachScope lists the people a token or an actor read unmasked, with categories and counts', async () => {
      const seen = await attendeeWithOrders('civic-theatre');
      const restricted = await restrictedAttendee(TENANT);
      const other = await attendeeWithOrders(TENANT, 2);
      const leaked = await caller({ roles: ['organizer_admin'], tenant: TENANT });
      const from = new Date(Date.now() - 1000).toISOString();
      // The token reads `other` twice and the restricted person once (masked only).
      const first = await send({ query: `{ attendee(id: "${other.id}") { name email } }`, as: leaked, purpose: 'ticketing' });
      const second = await send({
        query: `{ a: attendee(id: "${other.id}") { name } r: attendee(id: "${restricted.id}") { name email } }`,
        as: leaked,
        purpose: 'ticketing',
      });
      expect(first.body.errors).toBeUndefined();
      expect(second.body.errors).toBeUndefined();
      onlyEntry(first, leaked);
      onlyEntry(second, leaked);
      expect(seen.personId).not.toBe(other.personId);
      const to = new Date(Date.now() + 60_000).toISOString();

      const reviewer = await caller({ roles: ['security_reviewer'] });
      const SCOPE = 'query Scope($actor: String, $jti: String, $from: DateTime!, $to: DateTime!) { breachScope(actor: $actor, jti: $jti, from: $from, to: $to) { entries people { personId categories reads } categories { category people } } }';
      const expected = {
        entries: 2,
        people: [{ personId: other.personId, categories: ['user.contact.email', 'user.name'], reads: 2 }],
        categories: [
          { category: 'user.contact.email', people: 1 },
          { category: 'user.name', people: 1 },
        ],
      };
      for (const variables of [{ jti: leaked.jti }, { actor: leaked.sub }]) {
        const sent = await send<{ breachScope: unknown }>({ query: SCOPE, variables: { ...variables, from, to }, as: reviewer, purpose: 'security-audit' });
        expect(sent.body.errors).toBeUndefined();
        expect(sent.body.data!.breachScope).toEqual(expected);
        expect(onlyEntry(sent, reviewer).subjects).toEqual([other.personId]);
      }
      const neither = await send({ query: SCOPE, variables: { from, to }, as: reviewer, purpose: 'security-audit' });
      expect(neither.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });
  });

  it('application logs hold no personal data when a request fails unexpectedly', async () => {
    const lines: string[] = [];
    const logged = await listen(
      createGateway({
        database: fixture.database.app,
        policy: loadPolicyFile(POLICY_FILE),
        verifier: await createTokenVerifier(fixture.keys.auth),
        production: false,
        logger: createLogger((line) => lines.push(line)),
      }),
      '127.0.0.1',
      0,
    );
    const admin = await caller({ roles: ['organizer_admin'], tenant: TENANT });
    const target = await attendeeWithOrders(TENANT);
    await sql`revoke select on masked.tickets from custodian_app`.execute(fixture.database.owner.db);
    let body: GraphQLResponse['body'];
    try {
      const response = await fetch(logged.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${admin.token}`, 'x-purpose': 'ticketing' },
        body: JSON.stringify({ query: `{ attendee(id: "${target.id}") { name email orders { id tickets { id type } } } }` }),
      });
      body = (await response.json()) as GraphQLResponse['body'];
    } finally {
      await sql`grant select on masked.tickets to custodian_app`.execute(fixture.database.owner.db);
      await logged.close();
    }
    expect(body.errors?.length).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(0);
    const people = (demoData() as { people: { name: string; email: string; phone?: string }[] }).people;
    const text = lines.join('\n').toLowerCase();
    for (const person of people) {
      for (const value of [person.name, person.email, person.phone]) {
        if (value) expect(text).not.toContain(value.toLowerCase());
      }
    }
  });
});
