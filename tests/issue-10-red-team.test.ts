import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentHash, type AccessLogContent } from '../src/audit/entry-hash.js';
import { verifyChain } from '../src/audit/verify-chain.js';
import { projectRoot } from '../src/config.js';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { writeAccessPolicy } from '../src/db/access-policy.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { chainPage } from '../src/db/queries/access-log.js';
import { withScope } from '../src/db/request-scope.js';
import { databasePolicy } from '../src/policy/database-policy.js';
import { loadPolicyFile } from '../src/policy/policy.js';
import { importData } from '../src/privacy/import/import-data.js';
import { createTestDatabase, DATABASE_KINDS, demoData, rawAsApp, type TestDatabase } from './support/test-database.js';
import { gatewayFixture, startTestGateway, type GraphQLResponse, type TestGateway } from './support/test-gateway.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

/*
 * Red-team checks of issue 10's changes: the access log's chains against the application role,
 * statements prepared once per pooled connection serving callers of different scopes in turn,
 * the masking views before and after migrations 0011 and 0012, and batch keys across tenants.
 */

const POLICY = loadPolicyFile(path.join(projectRoot, 'schema', 'policy.yaml'));
const PURPOSES = [...POLICY.purposes.keys()];
const TENANTS = ['northwind-live', 'harbor-jazz', 'civic-theatre'];

const content = (requestId: string): AccessLogContent => ({
  at: new Date(),
  actor: 'red-team',
  role: 'security_reviewer',
  tenantId: null,
  purpose: 'security-audit',
  operationName: 'RedTeam',
  requestId,
  tokenId: null,
  clientAddress: null,
  subjects: ['per-1-0001'],
  fields: ['Person.name'],
  masked: [],
  exposure: { 'per-1-0001': ['user.profile.name'] },
  outcome: 'ALLOWED',
  errorCode: null,
  correlationId: null,
  maskedBySubject: {},
  aggregates: [],
});

const quote = (value: string) => `'${value.replaceAll("'", "''")}'`;

/** An INSERT as a buggy or hostile query would send it, every chaining column supplied by the caller. */
function forgedInsert(requestId: string, forged: { chain: number; link: number; seq: number; prevHash: string; hash: string }): string {
  const c = content(requestId);
  return `insert into access_log (seq, chain, link, prev_hash, hash, at, actor, role, tenant_id, purpose, operation_name, request_id,
      token_id, client_address, subjects, fields, masked, exposure, outcome, error_code, correlation_id, masked_by_subject, aggregates, content_hash)
    values (${forged.seq}, ${forged.chain}, ${forged.link}, ${quote(forged.prevHash)}, ${quote(forged.hash)}, ${quote(c.at.toISOString())}, ${quote(c.actor)},
      ${quote(c.role)}, null, ${quote(c.purpose)}, ${quote(c.operationName!)}, ${quote(requestId)}, null, null,
      array['per-1-0001'], array['Person.name'], array[]::text[], ${quote(JSON.stringify(c.exposure))}::jsonb, 'ALLOWED', null, null, '{}'::jsonb,
      array[]::text[], ${quote(contentHash(c))})`;
}

const ownerEntries = (database: TestDatabase) =>
  withScope(database.owner.db, { kind: 'maintenance' }, (trx) => chainPage(trx, { chain: -1, link: '0' }, 100_000));

describe.each(DATABASE_KINDS)('the access log chains against the application role (%s)', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind, { seed: false });
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('ignores every chaining value an INSERT supplies: the trigger assigns seq, chain, link, prev_hash and hash', async () => {
    const scope = { scope: 'platform', purpose: 'security-audit' };
    await rawAsApp(database, forgedInsert('forged-1', { seq: 1, chain: 63, link: 1, prevHash: 'f'.repeat(64), hash: 'e'.repeat(64) }), scope);
    // The same again: a caller-chosen seq that is taken, a chain that does not exist, a link far ahead.
    await rawAsApp(database, forgedInsert('forged-2', { seq: 1, chain: 99, link: 1000, prevHash: '0'.repeat(64), hash: '0'.repeat(64) }), scope);
    const rows = (await ownerEntries(database)).filter((row) => row.requestId.startsWith('forged-'));
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.hash).not.toBe('e'.repeat(64));
      expect(row.hash).not.toBe('0'.repeat(64));
      expect(row.chain).toBeGreaterThanOrEqual(0);
      expect(row.chain).toBeLessThan(64);
    }
    expect(new Set(rows.map((row) => row.seq)).size).toBe(2);
    // Whatever was asked for, the log is still one valid set of chains.
    expect((await verifyChain(database.owner.db)).problem).toBeUndefined();
  });

  it.each([
    ['read the heads', 'select * from access_log_chains'],
    ['move a head', 'update access_log_chains set link = link + 1, hash = repeat(\'a\', 64) where chain = 0'],
    ['delete a head', 'delete from access_log_chains where chain = 1'],
    ['truncate the heads', 'truncate access_log_chains'],
    ['add a head', `insert into access_log_chains (chain, link, hash) values (5, 0, repeat('a', 64))`],
    ['take a seq', "select nextval('access_log_seq')"],
    ['rewind the seq', "select setval('access_log_seq', 1)"],
    ['edit an entry', "update access_log set hash = repeat('a', 64)"],
    ['delete entries', 'delete from access_log'],
    ['truncate the log', 'truncate access_log'],
    ['write a partition directly', 'insert into access_log_default select * from access_log limit 1'],
    ['write the per-person index', "insert into access_log_subjects (person_id, at, seq) values ('per-1-0001', now(), 1)"],
    ['disable the chaining trigger', 'alter table access_log disable trigger access_log_chain'],
    ['turn triggers off for the session', "set session_replication_role = 'replica'"],
    // The chaining trigger is SECURITY DEFINER with public on its search_path: nothing may be planted there.
    ['create a table in public', 'create table public.access_log_shadow (x int)'],
    ['create a partition that would take backdated entries', "select custodian_access_log_partition('2020-01-01')"],
    ['create a function in public', "create function public.sha256(text) returns bytea language sql as 'select null::bytea'"],
  ])('refuses the application role to %s', async (_, statement) => {
    await expect(rawAsApp(database, statement, { scope: 'platform', purpose: 'security-audit' })).rejects.toThrow(/permission denied|must be owner|append-only|insufficient/i);
    expect((await verifyChain(database.owner.db)).problem).toBeUndefined();
  });
});

/*
 * One pooled connection serving callers of different tenants, purposes and scopes in turn, each
 * more than five times so PostgreSQL's plan cache moves to generic plans; and once with generic
 * plans forced from the first execution. Every answer must equal the one from a pool that
 * prepares nothing (each statement planned afresh for its own settings).
 */
describe.skipIf(process.env.TEST_DATABASE_URL === undefined).each(['auto', 'force_generic_plan'])(
  'one pooled connection serving callers in turn, plan_cache_mode %s (postgres)',
  (planCacheMode) => {
    let database: TestDatabase;
    let keys: TestKeys;
    let pooled: DatabaseHandle;
    let reference: DatabaseHandle;
    let pooledGateway: TestGateway;
    let referenceGateway: TestGateway;

    const ROSTER: Selection = {
      type: 'Query',
      fields: {
        'attendees(first: 500)': {
          type: 'AttendeeConnection',
          fields: {
            edges: {
              type: 'AttendeeEdge',
              fields: {
                node: {
                  type: 'Attendee',
                  fields: {
                    id: true, tenant: true, name: true, email: true, phone: true, company: true,
                    masked: { type: 'MaskedField', fields: { field: true, reason: true } },
                    orders: {
                      type: 'Order',
                      fields: { id: true, status: true, totalCents: true, paymentRef: true, event: { type: 'Event', fields: { id: true, name: true } }, tickets: { type: 'Ticket', fields: { id: true, type: true } } },
                    },
                    relationships: { type: 'Relationship', fields: { kind: true, direction: true, attendee: { type: 'Attendee', fields: { id: true, tenant: true, name: true } } } },
                  },
                },
              },
            },
          },
        },
      },
    };
    const ME: Selection = {
      type: 'Query',
      fields: {
        me: {
          type: 'DataSubject',
          fields: {
            id: true, name: true, email: true,
            attendances: { type: 'Attendee', fields: { id: true, tenant: true, name: true, orders: { type: 'Order', fields: { id: true, totalCents: true, tickets: { type: 'Ticket', fields: { id: true } } } } } },
          },
        },
      },
    };
    const IDOR = (field: 'attendee' | 'order', id: string) => `{ ${field}(id: "${id}") { id } }`;
    const callers: { name: string; selection?: Selection; query?: string; foreign?: true; claims: Parameters<TestKeys['sign']>[0]; purpose: string }[] = [
      { name: 'tenant A, ticketing', selection: ROSTER, claims: { roles: ['organizer_admin'], tenant: TENANTS[0] }, purpose: 'ticketing' },
      { name: 'tenant B, ticketing', selection: ROSTER, claims: { roles: ['organizer_admin'], tenant: TENANTS[1] }, purpose: 'ticketing' },
      { name: 'tenant A, marketing', selection: ROSTER, claims: { roles: ['organizer_admin'], tenant: TENANTS[0] }, purpose: 'marketing' },
      { name: 'tenant A, audience-insights', selection: ROSTER, claims: { roles: ['organizer_admin'], tenant: TENANTS[0] }, purpose: 'audience-insights' },
      { name: 'tenant C, ticketing', selection: ROSTER, claims: { roles: ['organizer_admin'], tenant: TENANTS[2] }, purpose: 'ticketing' },
      { name: 'platform, customer-support', selection: ROSTER, claims: { roles: ['support_agent'] }, purpose: 'customer-support' },
      { name: 'platform, fraud-prevention', selection: ROSTER, claims: { roles: ['fraud_analyst'] }, purpose: 'fraud-prevention' },
      { name: 'person, self-service', selection: ME, claims: { roles: ['data_subject'], sub: 'per-1-0001' }, purpose: 'self-service' },
      // Another tenant's rows by id, between the reads of their own tenant: never found.
      { name: "tenant B, tenant A's attendee", foreign: true, claims: { roles: ['organizer_admin'], tenant: TENANTS[1] }, purpose: 'ticketing' },
      { name: "tenant C, tenant A's order", foreign: true, claims: { roles: ['organizer_admin'], tenant: TENANTS[2] }, purpose: 'ticketing' },
    ];
    const tokens = new Map<string, string>();
    const expected = new Map<string, GraphQLResponse['body']>();

    const ask = (gateway: TestGateway, caller: (typeof callers)[number]) =>
      gateway.request({ query: caller.query!, token: tokens.get(caller.name)!, purpose: caller.purpose }).then((r) => r.body);

    beforeAll(async () => {
      database = await createTestDatabase('postgres');
      keys = await createTestKeys();
      const url = new URL(database.appUrl!);
      url.searchParams.set('options', `-c plan_cache_mode=${planCacheMode}`);
      pooled = await openDatabase({ url: url.toString(), poolSize: 1, preparedStatements: true });
      reference = await openDatabase({ url: database.appUrl!, poolSize: 2, preparedStatements: false });
      pooledGateway = await startTestGateway({ database: pooled, auth: keys.auth });
      referenceGateway = await startTestGateway({ database: reference, auth: keys.auth });
      const attendee = await database.owner.db.selectFrom('attendees').select('id').where('tenant_id', '=', TENANTS[0]!).orderBy('id').executeTakeFirstOrThrow();
      const order = await database.owner.db.selectFrom('orders').select('id').where('tenant_id', '=', TENANTS[0]!).orderBy('id').executeTakeFirstOrThrow();
      callers.find((c) => c.name.endsWith("A's attendee"))!.query = IDOR('attendee', attendee.id);
      callers.find((c) => c.name.endsWith("A's order"))!.query = IDOR('order', order.id);
      for (const caller of callers) {
        tokens.set(caller.name, await keys.sign({ ...caller.claims, purposes: [caller.purpose], ttl: '30m' }));
        // A purpose's query selects what it may read: a refused field refuses the whole query.
        const refused = new Set<string>();
        while (caller.selection !== undefined) {
          caller.query = render(caller.selection, refused);
          const body = await ask(referenceGateway, caller);
          const named = /may not read: (.*)\. Nothing was read/.exec(body.errors?.[0]?.message ?? '');
          if (named === null) {
            expected.set(caller.name, body);
            break;
          }
          for (const field of named[1]!.split(', ')) refused.add(field);
        }
        if (caller.selection === undefined) expected.set(caller.name, await ask(referenceGateway, caller));
      }
    });
    afterAll(async () => {
      await pooledGateway?.close();
      await referenceGateway?.close();
      await pooled?.close();
      await reference?.close();
      await database?.destroy();
    });

    it('has a different, non-empty answer for each caller to compare against', () => {
      for (const caller of callers) {
        const body = expected.get(caller.name)!;
        if (caller.foreign) {
          expect(body.errors?.map((e) => e.extensions?.code), caller.name).toEqual(['NOT_FOUND']);
          expect(Object.values(body.data ?? {}).filter((v) => v !== null), caller.name).toEqual([]);
          continue;
        }
        expect(body.errors, caller.name).toBeUndefined();
        expect(JSON.stringify(body.data).length, caller.name).toBeGreaterThan(200);
      }
      // Tenants, purposes and scopes really do answer differently: a leak would show.
      const readers = callers.filter((c) => !c.foreign);
      const distinct = new Set(readers.map((c) => JSON.stringify(expected.get(c.name))));
      expect(distinct.size).toBe(readers.length);
    });

    it('answers every caller exactly as a fresh connection does, round after round on the one connection', async () => {
      for (let round = 0; round < 8; round += 1) {
        for (const caller of callers) {
          expect(await ask(pooledGateway, caller), `${caller.name}, round ${round}`).toEqual(expected.get(caller.name));
        }
      }
      // The one connection did reuse its statements (and, forced, with generic plans).
      const stats = await sql<{ statements: number; generic: number }>`select count(*)::int as statements,
        coalesce(sum(generic_plans), 0)::int as generic from pg_prepared_statements`.execute(pooled.db);
      expect(stats.rows[0]!.statements).toBeGreaterThan(3);
      if (planCacheMode === 'force_generic_plan') expect(stats.rows[0]!.generic).toBeGreaterThan(callers.length * 8);
    });
  },
);

/** A GraphQL selection with each object field's type, so fields a purpose may not read can be left out. */
interface Selection {
  type: string;
  fields: Record<string, true | Selection>;
}

/** The selection as a document, without the `Type.field`s in `refused` (and objects left with nothing). */
function render(selection: Selection, refused: ReadonlySet<string>): string {
  const inner = (s: Selection): string =>
    Object.entries(s.fields)
      .flatMap(([field, sub]) => {
        if (refused.has(`${s.type}.${field.replace(/\(.*$/, '')}`)) return [];
        if (sub === true) return [field];
        const body = inner(sub);
        return body === '' ? [] : [`${field} { ${body} }`];
      })
      .join(' ');
  return `{ ${inner(selection)} }`;
}

/**
 * Everything the application role reads through each masking view, for every purpose, under
 * several scopes: rows as sorted JSON, so two snapshots compare exactly.
 */
async function maskedSnapshot(database: TestDatabase): Promise<Map<string, string[]>> {
  const views = (
    await rawAsApp<{ name: string }>(database, `select table_name as name from information_schema.views where table_schema = 'masked' order by 1`)
  ).map((v) => v.name);
  expect(views.length).toBeGreaterThanOrEqual(8);
  const scopes: { label: string; scope: string; tenant?: string; person?: string }[] = [
    ...TENANTS.map((tenant) => ({ label: `tenant ${tenant}`, scope: 'tenant', tenant })),
    { label: 'platform', scope: 'platform' },
    { label: 'person per-1-0001', scope: 'person', person: 'per-1-0001' },
    { label: 'person per-1-0036', scope: 'person', person: 'per-1-0036' },
  ];
  const snapshot = new Map<string, string[]>();
  for (const view of views) {
    for (const purpose of PURPOSES) {
      for (const { label, ...settings } of scopes) {
        const rows = await rawAsApp<Record<string, unknown>>(database, `select * from masked.${view}`, { ...settings, purpose });
        snapshot.set(`${view} / ${purpose} / ${label}`, rows.map((row) => JSON.stringify(row)).sort());
      }
    }
  }
  return snapshot;
}

describe.each(DATABASE_KINDS)('the masking views before and after migrations 0011 and 0012 (%s)', (kind) => {
  let database: TestDatabase;
  let before: Map<string, string[]>;
  let after: Map<string, string[]>;
  beforeAll(async () => {
    // A database as the release before issue 10 left it, with the demo data and the project's policy.
    database = await createTestDatabase(kind, { migratedUpTo: '0009-rate-limits' });
    await writeAccessPolicy(database.owner.db, databasePolicy(POLICY));
    await importData(database.owner.db, demoData());
    before = await maskedSnapshot(database);
    await migrateToLatest(database.owner.db);
    const applied = await sql<{ name: string }>`select name from custodian_migrations order by name`.execute(database.owner.db);
    expect(applied.rows.map((row) => row.name)).toEqual(expect.arrayContaining(['0011-masking-cost', '0012-keyed-view-reads']));
    after = await maskedSnapshot(database);
  }, 300_000);
  afterAll(async () => {
    await database?.destroy();
  });

  it('reads something through the views, and differently per purpose and scope (so a change would show)', () => {
    const nonEmpty = [...before.values()].filter((rows) => rows.length > 0);
    expect(nonEmpty.length).toBeGreaterThan(50);
    expect(new Set([...before.values()].map((rows) => rows.join('\n'))).size).toBeGreaterThan(20);
  });

  it('returns exactly the same rows and values for every view, purpose and scope', () => {
    expect([...after.keys()]).toEqual([...before.keys()]);
    for (const [key, rows] of before) expect(after.get(key), key).toEqual(rows);
  });
});

/*
 * Batch keys across tenants (keyIn's unnest form) through the API: a platform caller's roster
 * spans every tenant, and each attendee's orders must be exactly that attendee's, in its tenant.
 */
describe.each(DATABASE_KINDS)('children of several tenants in one batch, through the API (%s)', (kind) => {
  const fixture = gatewayFixture(kind);

  it("gives each attendee of every tenant its own orders and tickets, never another tenant's", async () => {
    const token = await fixture.keys.sign({ roles: ['fraud_analyst'], purposes: ['fraud-prevention'], ttl: '30m' });
    const response = await fixture.gateway.request<{
      attendees: { edges: { node: { id: string; tenant: string; masked: { field: string }[]; orders: { id: string; tickets: { id: string }[] }[] } }[] };
    }>({
      query: '{ attendees(first: 500) { edges { node { id tenant masked { field reason } orders { id tickets { id } } } } } }',
      token,
      purpose: 'fraud-prevention',
    });
    expect(response.body.errors).toBeUndefined();
    const nodes = response.body.data!.attendees.edges.map((e) => e.node);
    expect(new Set(nodes.map((n) => n.tenant))).toEqual(new Set(TENANTS));

    const orders = await fixture.database.owner.db.selectFrom('orders').select(['tenant_id', 'attendee_id', 'id']).execute();
    const tickets = await fixture.database.owner.db.selectFrom('tickets').select(['tenant_id', 'order_id', 'id']).execute();
    let withOrders = 0;
    for (const node of nodes) {
      // A person who restricted processing has their orders withheld (masked), not another's.
      const withheld = node.masked.some((m) => m.field === 'orders');
      const own = withheld ? [] : orders.filter((o) => o.tenant_id === node.tenant && o.attendee_id === node.id).map((o) => o.id).sort();
      expect(node.orders.map((o) => o.id).sort(), node.id).toEqual(own);
      for (const order of node.orders) {
        const ownTickets = tickets.filter((t) => t.tenant_id === node.tenant && t.order_id === order.id).map((t) => t.id).sort();
        expect(order.tickets.map((t) => t.id).sort(), order.id).toEqual(ownTickets);
      }
      if (own.length > 0) withOrders += 1;
    }
    expect(withOrders).toBeGreaterThan(10);
  });
});
