import { PGlite } from '@electric-sql/pglite';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { isDatabaseUnavailable } from '../src/db/availability.js';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { RequestTransaction } from '../src/db/request-transaction.js';
import { ConfigurationError } from '../src/errors.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { startTestGateway, type TestGateway } from './support/test-gateway.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

const TENANT = 'northwind-live';
const ONE_ATTENDEE = '{ attendees(first: 1) { edges { node { id name } } } }';
const FLOOD = `{ ${Array.from({ length: 3_000 }, (_, i) => `a${i}: events(first: 500) { edges { node { id name } } }`).join(' ')} }`;

describe('database limits configuration', () => {
  it('defaults to a pool of 10, a 5 s wait, 15 s statement and idle timeouts and prepared statements, all configurable', () => {
    expect(loadConfig({}).databaseLimits).toEqual({
      poolSize: 10,
      poolTimeoutMs: 5_000,
      statementTimeoutMs: 15_000,
      idleInTransactionTimeoutMs: 15_000,
      preparedStatements: true,
    });
    expect(
      loadConfig({
        DATABASE_POOL_SIZE: '3',
        DATABASE_POOL_TIMEOUT: '500ms',
        DATABASE_STATEMENT_TIMEOUT: '2s',
        DATABASE_IDLE_IN_TRANSACTION_TIMEOUT: '1m',
        DATABASE_PREPARED_STATEMENTS: 'off',
      }).databaseLimits,
    ).toEqual({ poolSize: 3, poolTimeoutMs: 500, statementTimeoutMs: 2_000, idleInTransactionTimeoutMs: 60_000, preparedStatements: false });
    expect(() => loadConfig({ DATABASE_POOL_SIZE: '0' })).toThrow(ConfigurationError);
    expect(() => loadConfig({ DATABASE_STATEMENT_TIMEOUT: 'soon' })).toThrow(ConfigurationError);
  });
});

describe.each(DATABASE_KINDS)('pool protection over HTTP (%s)', (kind) => {
  let database: TestDatabase;
  let keys: TestKeys;
  let pool: DatabaseHandle;
  let gateway: TestGateway;
  let token: string;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    keys = await createTestKeys();
    // One connection and a short bounded wait: the refusal, not its timing, is what is asserted.
    pool = await database.openApp(1, 300);
    gateway = await startTestGateway({ database: pool, auth: keys.auth });
    token = await keys.sign({ roles: ['organizer_admin'], tenant: TENANT });
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  const read = (query = ONE_ATTENDEE) => gateway.request({ query, token, purpose: 'ticketing' });
  const retryAfterOf = async (query = ONE_ATTENDEE) => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'ticketing' },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
  };

  it('answers 503 SERVICE_UNAVAILABLE with Retry-After when no connection comes free, then serves again', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let taken!: () => void;
    const isTaken = new Promise<void>((resolve) => (taken = resolve));
    const holder = pool.db.connection().execute(async () => {
      taken();
      await held;
    });
    await isTaken;
    try {
      const refused = await retryAfterOf();
      expect(refused.status).toBe(503);
      expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
      expect(refused.body.data ?? null).toBeNull();
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    } finally {
      release();
      await holder;
    }
    const served = await read();
    expect(served.status).toBe(200);
    expect(served.body.errors).toBeUndefined();
  });

  it('refuses 12 concurrent alias floods before they take a connection, and still answers another caller', async () => {
    // The gateway's ordinary pool: each refusal still writes its DENIED entry, which a pool of one
    // with a short wait could not always take in time.
    const ordinary = await startTestGateway({ database: database.app, auth: keys.auth });
    const send = (query: string) => ordinary.request({ query, token, purpose: 'ticketing' });
    const floods = Array.from({ length: 12 }, () => send(FLOOD));
    const other = send(ONE_ATTENDEE);
    for (const flood of await Promise.all(floods)) {
      expect(flood.status).toBe(400);
      expect(flood.body.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    }
    const answered = await other;
    expect(answered.status).toBe(200);
    expect(answered.body.errors).toBeUndefined();
    await ordinary.close();
  });

  it('bounds statements and idle transactions on the request transaction', async () => {
    const transaction = new RequestTransaction(database.app.db, { kind: 'tenant', tenantId: TENANT }, 'ticketing', {
      statementTimeoutMs: 1_500,
      idleInTransactionTimeoutMs: 2_500,
    });
    try {
      const trx = await transaction.get();
      const settings = await sql<{ statement: string; idle: string }>`select current_setting('statement_timeout') as statement,
        current_setting('idle_in_transaction_session_timeout') as idle`.execute(trx);
      expect(settings.rows[0]).toEqual({ statement: '1500ms', idle: '2500ms' });
    } finally {
      await transaction.finish('rollback');
    }
  });

  it.runIf(kind === 'postgres')('cancels a statement at the timeout, and counts that as the database being unavailable', async () => {
    const transaction = new RequestTransaction(database.app.db, { kind: 'tenant', tenantId: TENANT }, 'ticketing', {
      statementTimeoutMs: 50,
      idleInTransactionTimeoutMs: 10_000,
    });
    let failure: unknown;
    try {
      await sql`select pg_sleep(30)`.execute(await transaction.get());
    } catch (error) {
      failure = error;
    } finally {
      await transaction.finish('rollback');
    }
    expect((failure as { code?: string }).code).toBe('57014');
    expect(isDatabaseUnavailable(failure)).toBe(true);
  });
});

describe.each(DATABASE_KINDS)('an unreachable database (%s)', (kind) => {
  let keys: TestKeys;
  let unreachable: DatabaseHandle;
  let gateway: TestGateway;

  beforeAll(async () => {
    keys = await createTestKeys();
    if (kind === 'postgres') {
      // Nothing listens on port 1.
      unreachable = await openDatabase({ url: 'postgres://custodian_app:x@127.0.0.1:1/custodian', poolTimeoutMs: 2_000 });
    } else {
      const pglite = await PGlite.create();
      unreachable = await openDatabase({ pglite, poolTimeoutMs: 2_000 });
      await pglite.close();
    }
    gateway = await startTestGateway({ database: unreachable, auth: keys.auth });
  });
  afterAll(async () => {
    await gateway?.close();
    await unreachable?.close().catch(() => undefined);
  });

  it('answers 503 SERVICE_UNAVAILABLE, never 200, for reads and writes alike', async () => {
    const organizer = await keys.sign({ roles: ['organizer_admin'], tenant: TENANT });
    const officer = await keys.sign({ roles: ['privacy_officer'] });
    const requests = [
      gateway.request({ query: ONE_ATTENDEE, token: organizer, purpose: 'ticketing' }),
      gateway.request({ query: '{ dataSubject(personId: "per-1-0002") { name } }', token: officer, purpose: 'legal-compliance' }),
      gateway.request({ query: 'mutation { setConsent(personId: "per-1-0002", input: { marketing: false }) { marketing } }', token: officer, purpose: 'legal-compliance' }),
    ];
    for (const response of await Promise.all(requests)) {
      expect(response.status).toBe(503);
      expect(['SERVICE_UNAVAILABLE', 'AUDIT_UNAVAILABLE']).toContain(response.body.errors?.[0]?.extensions?.code);
      expect(response.body.data ?? null).toBeNull();
    }
  });

  it('answers even the viewer 503: whether the token was revoked cannot be checked (closed, not open)', async () => {
    const response = await gateway.request({ query: '{ viewer { role } }', token: await keys.sign({ roles: ['analyst'] }), purpose: 'analytics' });
    expect(response.status).toBe(503);
    expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(response.body.data ?? null).toBeNull();
  });
});
