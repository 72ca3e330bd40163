import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPERATION_LIMITS } from '../src/config.js';
import { beginScopedTransaction, withScope } from '../src/db/request-scope.js';
import { exportPerson } from '../src/privacy/data-subject-service.js';
import { DATABASE_KINDS } from './support/test-database.js';
import { gatewayFixture } from './support/test-gateway.js';

const TENANT = 'northwind-live';
const PERSON = 'per-1-0002';

/** `attendees(first: 500) { edges { node { relationships { attendee { … n levels` */
function relationshipCycle(levels: number): string {
  let inner = 'id';
  for (let i = 0; i < levels; i += 1) inner = `relationships { kind attendee { ${inner} } }`;
  return `query Cycle { attendees(first: 500) { edges { node { ${inner} } } } }`;
}

const aliases = (count: number, field: string) =>
  `query Flood { ${Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

// The README's dashboard query at the largest page: a real dashboard must stay under every limit.
const DASHBOARD = `query EventAttendees {
  attendees(eventId: "evt-nl-1", first: 500) {
    edges { node { id name email consent { marketing }
      orders { id placedAt totalCents currency status event { name } tickets { id type checkedInAt } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

describe.each(DATABASE_KINDS)('operation limits over HTTP (%s)', (kind) => {
  const fixture = gatewayFixture(kind);
  let requests = 0;

  const admin = () => fixture.keys.sign({ sub: `admin-${kind}`, roles: ['organizer_admin'], tenant: TENANT });
  const person = () => fixture.keys.sign({ sub: PERSON, roles: ['data_subject'] });

  async function send(query: string, token: string, purpose: string) {
    requests += 1;
    const requestId = `limits-${kind}-${requests}`;
    const before = fixture.database.app.statements.count;
    const response = await fetch(fixture.gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}`, 'x-purpose': purpose, 'x-request-id': requestId },
      body: JSON.stringify({ query }),
    });
    const text = await response.text();
    const body = JSON.parse(text) as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };
    return { status: response.status, body, text, requestId, statements: fixture.database.app.statements.count - before };
  }

  // Entries of one request, found by the X-Request-Id it sent (kept as the correlation id).
  const logEntries = (requestId: string) =>
    withScope(fixture.database.owner.db, { kind: 'maintenance' }, async (trx) =>
      (await sql<{ outcome: string; error_code: string | null; subjects: string[] }>`
        select outcome, error_code, subjects from access_log where correlation_id = ${requestId}`.execute(trx)).rows,
    );

  async function expectRefused(sent: Awaited<ReturnType<typeof send>>, limit: string): Promise<void> {
    expect(sent.status, sent.text.slice(0, 300)).toBe(400);
    expect(sent.body.errors).toHaveLength(1);
    expect(sent.body.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit });
    expect(sent.body.data ?? null).toBeNull();
    // Refused before execution: no SQL read anything, and the refusal is in the log as DENIED.
    expect(sent.statements).toBe(0);
    expect(await logEntries(sent.requestId)).toEqual([{ outcome: 'DENIED', error_code: 'QUERY_TOO_COMPLEX', subjects: [] }]);
  }

  it('serves the README dashboard query at 500 attendees (control)', async () => {
    const sent = await send(DASHBOARD, await admin(), 'ticketing');
    expect(sent.status).toBe(200);
    expect(sent.body.errors).toBeUndefined();
    expect((sent.body.data!['attendees'] as { edges: unknown[] }).edges.length).toBeGreaterThan(0);
  });

  it('serves two levels of relationships (control)', async () => {
    const sent = await send(relationshipCycle(2), await admin(), 'audience-insights');
    expect(sent.status).toBe(200);
    expect(sent.body.errors).toBeUndefined();
  });

  it('refuses the deep relationship cycle (50 levels) before it runs', async () => {
    const sent = await send(relationshipCycle(50), await admin(), 'audience-insights');
    await expectRefused(sent, 'depth');
  });

  it('refuses a relationship cycle within the depth limit by its cost (first: 500 multiplied through nesting)', async () => {
    const sent = await send(relationshipCycle(4), await admin(), 'audience-insights');
    await expectRefused(sent, 'cost');
  });

  it('refuses an alias flood of events(first: 500)', async () => {
    const sent = await send(aliases(3_000, 'events(first: 500) { edges { node { id name } } }'), await admin(), 'ticketing');
    // 3,000 aliases are over the token limit long before the alias count is reached.
    await expectRefused(sent, 'tokens');
    const fewer = await send(aliases(DEFAULT_OPERATION_LIMITS.aliases + 1, 'events(first: 1) { edges { node { id } } }'), await admin(), 'ticketing');
    await expectRefused(fewer, 'aliases');
  });

  it('refuses a cost over the limit made of allowed aliases', async () => {
    const sent = await send(
      aliases(10, 'attendees(first: 500) { edges { node { id orders { id tickets { id type } } } } }'),
      await admin(),
      'ticketing',
    );
    await expectRefused(sent, 'cost');
  });

  it('refuses a document with too many directives', async () => {
    const directives = Array.from({ length: DEFAULT_OPERATION_LIMITS.directives + 1 }, () => '@include(if: true)').join(' ');
    await expectRefused(await send(`query D { viewer ${directives} { sub } }`, await admin(), 'ticketing'), 'directives');
  });

  it('refuses a large document with 413 before parsing it, and a smaller one over the token limit with 400', async () => {
    const huge = aliases(50_000, '__typename');
    expect(huge.length).toBeGreaterThan(DEFAULT_OPERATION_LIMITS.bodyBytes);
    const sent = await send(huge, await admin(), 'ticketing');
    expect(sent.status).toBe(413);
    expect(sent.body.errors?.[0]?.extensions).toMatchObject({ code: 'REQUEST_ENTITY_TOO_LARGE' });
    expect(sent.statements).toBe(0);

    const underBody = aliases(5_000, '__typename');
    expect(underBody.length).toBeLessThan(DEFAULT_OPERATION_LIMITS.bodyBytes);
    await expectRefused(await send(underBody, await admin(), 'ticketing'), 'tokens');
  });

  describe('the export', () => {
    const accessRequests = () =>
      withScope(fixture.database.owner.db, { kind: 'maintenance' }, async (trx) =>
        Number((await sql<{ n: string }>`select count(*)::text as n from data_subject_requests where person_id = ${PERSON} and kind = 'ACCESS'`.execute(trx)).rows[0]!.n),
      );

    it('refuses 100 aliases of me { export }, and records no request', async () => {
      const before = await accessRequests();
      const sent = await send(aliases(100, 'me { export }'), await person(), 'self-service');
      await expectRefused(sent, 'aliases');
      expect(await accessRequests()).toBe(before);
    });

    it('runs export at most once per operation, however it is reached', async () => {
      const before = await accessRequests();
      const twice = [
        'query A { a: me { export } b: me { export } }',
        'query B { me { export again: export } }',
        'query C { me { ...E } other: me { ...E } } fragment E on DataSubject { export }',
        'query D { me { ... on DataSubject { export } ...E } } fragment E on DataSubject { export }',
      ];
      for (const query of twice) await expectRefused(await send(query, await person(), 'self-service'), 'export');
      expect(await accessRequests()).toBe(before);

      const once = await send('query Once { me { ...E } } fragment E on DataSubject { export }', await person(), 'self-service');
      expect(once.status).toBe(200);
      expect(once.body.errors).toBeUndefined();
      expect(await accessRequests()).toBe(before + 1);
    });

    it('caps the access history inside the export and links to the rest', async () => {
      const sent = await send('{ me { export } }', await person(), 'self-service');
      expect(sent.status).toBe(200);
      const exported = (sent.body.data!['me'] as { export: Record<string, unknown> }).export;
      const history = exported['accessHistory'] as unknown[];
      const page = exported['accessHistoryPage'] as { complete: boolean; limit: number; after: string | null; query: string | null };
      expect(history.length).toBeLessThanOrEqual(page.limit);
      expect(page.complete).toBe(history.length < page.limit);
      if (page.complete) expect(page.after).toBeNull();
    });

    it('links a capped history to the rest: the cursor pages on through accessHistory', async () => {
      // Reads that leave entries about the person, so the history is longer than the cap below.
      for (let i = 0; i < 3; i += 1) expect((await send('{ me { name } }', await person(), 'self-service')).status).toBe(200);
      // The export as the gateway runs it for the person (their scope and purpose), with a cap of 2.
      const scope = { kind: 'person', personId: PERSON } as const;
      const trx = await beginScopedTransaction(fixture.database.app.db, scope, 'self-service');
      let exported: Record<string, unknown>;
      try {
        exported = (await exportPerson(trx, scope, { subject: PERSON, role: 'data_subject' }, PERSON, 2)).document;
      } finally {
        await trx.rollback().execute();
      }
      const page = exported['accessHistoryPage'] as { complete: boolean; after: string; query: string };
      expect(exported['accessHistory']).toHaveLength(2);
      expect(page.complete).toBe(false);
      const rest = await send(page.query, await person(), 'self-service');
      expect(rest.status).toBe(200);
      const edges = ((rest.body.data!['me'] as { accessHistory: { edges: { node: { at: string } }[] } }).accessHistory).edges;
      expect(edges.length).toBeGreaterThan(0);
      const lastExported = (exported['accessHistory'] as { at: Date }[]).at(-1)!.at;
      expect(new Date(edges[0]!.node.at).getTime()).toBeLessThanOrEqual(new Date(lastExported).getTime());
    });
  });
});
