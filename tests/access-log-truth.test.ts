import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { withScope } from '../src/db/request-scope.js';
import { DATABASE_KINDS } from './support/test-database.js';
import { gatewayFixture, type GraphQLResponse } from './support/test-gateway.js';
import type { TokenClaimsInput } from './support/test-keys.js';

/*
 * Issue 8, "the log under-reports" and "history views show other people": the access log tells
 * the whole truth about every read (cursors, aggregates, hashes, exports), under the gateway's own
 * request id, and each per-person view of it shows only what concerns that person.
 */

const TENANT = 'northwind-live';

interface Entry {
  seq: string;
  request_id: string;
  correlation_id: string | null;
  subjects: string[];
  fields: string[];
  masked: string[];
  masked_by_subject: Record<string, string[]>;
  exposure: Record<string, string[]>;
  aggregates: string[];
  token_id: string | null;
}

describe.each(DATABASE_KINDS)('the access log tells the whole truth (%s)', (kind) => {
  const fixture = gatewayFixture(kind);
  let counter = 0;

  async function token(claims: Partial<TokenClaimsInput> & { roles: string[] }) {
    counter += 1;
    const jti = `truth-${kind}-${counter}`;
    const sub = claims.sub ?? `${claims.roles[0]}-truth-${counter}`;
    return { jti, sub, token: await fixture.keys.sign({ sub, jti, ...claims }) };
  }

  const headSeq = async () =>
    withScope(fixture.database.owner.db, { kind: 'maintenance' }, async (trx) =>
      (await sql<{ seq: string }>`select coalesce(max(seq), 0)::text as seq from access_log`.execute(trx)).rows[0]!.seq,
    );

  const entriesAfter = async (seq: string) =>
    withScope(fixture.database.owner.db, { kind: 'maintenance' }, async (trx) =>
      (
        await sql<Entry>`select seq::text as seq, request_id, correlation_id, subjects, fields, masked, masked_by_subject, exposure, aggregates, token_id
          from access_log where seq > ${seq}::bigint order by seq`.execute(trx)
      ).rows,
    );

  /** One request and the entries it added. */
  async function send<T>(query: string, as: { token: string }, purpose: string, headers: Record<string, string> = {}, variables?: Record<string, unknown>) {
    const before = await headSeq();
    const response = await fetch(fixture.gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${as.token}`, 'x-purpose': purpose, ...headers },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphQLResponse<T>['body'];
    return { body, requestId: response.headers.get('x-request-id'), entries: await entriesAfter(before) };
  }

  const personOfAttendee = async (attendeeId: string) =>
    (await fixture.database.owner.db.selectFrom('attendees').select('person_id').where('id', '=', attendeeId).executeTakeFirstOrThrow()).person_id!;

  it('reading only cursors of attendees is a read of those people', async () => {
    const admin = await token({ roles: ['organizer_admin'], tenant: TENANT });
    const sent = await send<{ attendees: { edges: { cursor: string }[]; pageInfo: { endCursor: string } } }>(
      '{ attendees(first: 3) { edges { cursor } pageInfo { endCursor } } }',
      admin,
      'ticketing',
    );
    expect(sent.body.errors).toBeUndefined();
    expect(sent.body.data!.attendees.edges).toHaveLength(3);
    expect(sent.entries).toHaveLength(1);
    const [entry] = sent.entries;
    // Each cursor encodes (tenant, attendee id): the people behind them are the entry's subjects.
    const ids = sent.body.data!.attendees.edges.map((e) => (JSON.parse(Buffer.from(e.cursor, 'base64url').toString('utf8')) as string[])[1]!);
    const people = await Promise.all(ids.map(personOfAttendee));
    expect([...entry!.subjects].sort()).toEqual([...new Set(people)].sort());
    expect(entry!.fields).toEqual(expect.arrayContaining(['AttendeeEdge.cursor', 'PageInfo.endCursor']));
    for (const person of people) expect(entry!.exposure[person]).toEqual(['user.unique_id.pseudonymous']);
  });

  it('a page of events (no person) leaves no entry, cursors included', async () => {
    const admin = await token({ roles: ['organizer_admin'], tenant: TENANT });
    const sent = await send('{ events(first: 2) { edges { cursor node { id } } pageInfo { endCursor } } }', admin, 'ticketing');
    expect(sent.body.errors).toBeUndefined();
    expect(sent.entries).toEqual([]);
  });

  it('an aggregate read leaves an entry with its purpose, dimension and category, and no people', async () => {
    const analyst = await token({ roles: ['analyst'] });
    const sent = await send<{ audienceBreakdown: { value: string }[] }>('{ audienceBreakdown(dimension: AGE_RANGE) { value count suppressed } }', analyst, 'analytics');
    expect(sent.body.errors).toBeUndefined();
    expect(sent.body.data!.audienceBreakdown.length).toBeGreaterThan(0);
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]).toMatchObject({ subjects: [], aggregates: ['AGE_RANGE:user.demographic'], exposure: {} });
    expect(sent.entries[0]!.fields).toContain('Query.audienceBreakdown');
  });

  it('hashed emails are an exposure: breachScope names everyone a marketing token took', async () => {
    const marketer = await token({ roles: ['organizer_admin'], tenant: TENANT });
    const from = new Date(Date.now() - 60_000).toISOString();
    const sent = await send<{ marketingAudience: { edges: { node: { emailSha256: string } }[] } }>(
      '{ marketingAudience(first: 500) { edges { node { emailSha256 } } } }',
      marketer,
      'marketing',
    );
    expect(sent.body.errors).toBeUndefined();
    const hashes = sent.body.data!.marketingAudience.edges.length;
    expect(hashes).toBeGreaterThan(5);
    const reviewer = await token({ roles: ['security_reviewer'] });
    const scope = await send<{ breachScope: { people: { personId: string; categories: string[] }[] } }>(
      'query($jti: String, $from: DateTime!, $to: DateTime!) { breachScope(jti: $jti, from: $from, to: $to) { people { personId categories } } }',
      reviewer,
      'security-audit',
      {},
      { jti: marketer.jti, from, to: new Date(Date.now() + 60_000).toISOString() },
    );
    expect(scope.body.errors).toBeUndefined();
    const people = scope.body.data!.breachScope.people;
    expect(people).toHaveLength(hashes);
    for (const person of people) expect(person.categories).toContain('user.contact.email.hashed');
  });

  it("logs the gateway's own request id, with the caller's X-Request-Id beside it", async () => {
    const admin = await token({ roles: ['organizer_admin'], tenant: TENANT });
    const sent = await send('{ attendees(first: 1) { edges { node { name } } } }', admin, 'ticketing', { 'x-request-id': 'caller-chosen-1' });
    expect(sent.entries).toHaveLength(1);
    expect(sent.entries[0]!.request_id).toBe(sent.requestId);
    expect(sent.entries[0]!.request_id).not.toBe('caller-chosen-1');
    expect(sent.entries[0]!.correlation_id).toBe('caller-chosen-1');
    // Two requests claiming the same id are still two ids in the log.
    const again = await send('{ attendees(first: 1) { edges { node { name } } } }', admin, 'ticketing', { 'x-request-id': 'caller-chosen-1' });
    expect(again.entries[0]!.request_id).not.toBe(sent.entries[0]!.request_id);
  });

  describe('per-person views', () => {
    /** A read of two people in one request, one of them restricted (masked PROCESSING_RESTRICTED). */
    async function readTwo() {
      const rows = await fixture.database.owner.db
        .selectFrom('attendees')
        .innerJoin('consents', 'consents.person_id', 'attendees.person_id')
        .select(['attendees.id', 'attendees.person_id', 'consents.restricted'])
        .where('attendees.tenant_id', '=', TENANT)
        .orderBy('attendees.id')
        .execute();
      const restricted = rows.find((r) => r.restricted)!;
      const plain = rows.find((r) => !r.restricted)!;
      expect(restricted).toBeDefined();
      const admin = await token({ roles: ['organizer_admin'], tenant: TENANT });
      const sent = await send(
        `{ a: attendee(id: "${plain.id}") { name email } b: attendee(id: "${restricted.id}") { name email } }`,
        admin,
        'ticketing',
        { 'x-request-id': 'staff-correlation' },
      );
      expect(sent.entries).toHaveLength(1);
      const entry = sent.entries[0]!;
      // The entry itself holds both people, and the restricted person's reasons as theirs alone.
      expect([...entry.subjects].sort()).toEqual([plain.person_id!, restricted.person_id!].sort());
      expect(entry.masked_by_subject[restricted.person_id!]).toEqual(expect.arrayContaining(['Attendee.name:PROCESSING_RESTRICTED']));
      expect(entry.masked_by_subject[plain.person_id!]).toBeUndefined();
      return { plain: plain.person_id!, restricted: restricted.person_id!, admin, entry };
    }

    interface ViewNode {
      id: string;
      subjects: string[];
      masked: string[];
      tokenId: string | null;
      clientAddress: string | null;
      correlationId: string | null;
      hash: string;
      prevHash: string | null;
    }
    const NODE = 'id subjects masked tokenId clientAddress correlationId hash prevHash';

    it('a privacy officer reading one person sees that person only: no other subjects, no other reasons', async () => {
      const { plain, restricted, entry } = await readTwo();
      const officer = await token({ roles: ['privacy_officer'] });
      for (const [person, other] of [
        [plain, restricted],
        [restricted, plain],
      ] as const) {
        const sent = await send<{ accessLog: { edges: { node: ViewNode }[] } }>(
          `query($p: ID!) { accessLog(filter: { subjectId: $p }, first: 5) { edges { node { ${NODE} } } } }`,
          officer,
          'legal-compliance',
          {},
          { p: person },
        );
        expect(sent.body.errors).toBeUndefined();
        const node = sent.body.data!.accessLog.edges.find((e) => e.node.id === entry.seq)!.node;
        expect(node.subjects).toEqual([person]);
        expect(JSON.stringify(node)).not.toContain(other);
        expect(node.masked).toEqual(person === restricted ? expect.arrayContaining(['Attendee.name:PROCESSING_RESTRICTED']) : []);
        // Staff may see which token read the person; the chain hash, which commits to the other person, is not shown.
        expect(node.tokenId).toBe(entry.token_id);
        expect(node.prevHash).toBeNull();
      }
    });

    it("a person's own history shows who read them, without the staff member's token, address or other people's reasons", async () => {
      const { plain, restricted, entry } = await readTwo();
      for (const [person, other] of [
        [plain, restricted],
        [restricted, plain],
      ] as const) {
        const self = await token({ roles: ['data_subject'], sub: person });
        const sent = await send<{ me: { accessHistory: { edges: { node: ViewNode & { role: string; purpose: string } }[] } } }>(
          `{ me { accessHistory(first: 10) { edges { node { ${NODE} role purpose } } } } }`,
          self,
          'self-service',
        );
        expect(sent.body.errors).toBeUndefined();
        const node = sent.body.data!.me.accessHistory.edges.find((e) => e.node.id === entry.seq)!.node;
        expect(node).toMatchObject({ subjects: [person], tokenId: null, clientAddress: null, correlationId: null, prevHash: null, role: 'organizer_admin', purpose: 'ticketing' });
        expect(JSON.stringify(node)).not.toContain(other);
        if (person === plain) expect(node.masked).toEqual([]);
        else expect(node.masked).toEqual(expect.arrayContaining(['Attendee.name:PROCESSING_RESTRICTED']));
        // The same entry in the other person's history is a different view: its digest differs.
        const exported = await send<{ me: { export: { accessHistory: { masked: string[] }[] } } }>('{ me { export } }', self, 'self-service');
        expect(exported.body.errors).toBeUndefined();
        expect(JSON.stringify(exported.body.data!.me.export.accessHistory)).not.toContain(other);
        if (person === plain) expect(JSON.stringify(exported.body.data!.me.export.accessHistory)).not.toContain('PROCESSING_RESTRICTED');
      }
    });

    it('a security reviewer sees the entry whole', async () => {
      const { plain, restricted, entry } = await readTwo();
      const reviewer = await token({ roles: ['security_reviewer'] });
      const sent = await send<{ accessLog: { edges: { node: ViewNode }[] } }>(
        `query($p: ID!) { accessLog(filter: { subjectId: $p }, first: 5) { edges { node { ${NODE} } } } }`,
        reviewer,
        'security-audit',
        {},
        { p: plain },
      );
      const node = sent.body.data!.accessLog.edges.find((e) => e.node.id === entry.seq)!.node;
      expect([...node.subjects].sort()).toEqual([plain, restricted].sort());
      expect(node.correlationId).toBe('staff-correlation');
      expect(node.prevHash).toMatch(/^[0-9a-f]{64}$/);
    });
  });
});
