import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { warmUpJwks } from '../src/auth/jwks-warmup.js';
import { createTokenVerifier } from '../src/auth/token-verifier.js';
import { withScope } from '../src/db/request-scope.js';
import { createLogger } from '../src/logger.js';
import { GatewayMetrics } from '../src/ops/metrics.js';
import { createReadiness, databaseReadiness } from '../src/ops/readiness.js';
import { loadPolicyFile } from '../src/policy/policy.js';
import { createGateway, listen, type RunningGateway } from '../src/server.js';
import { POLICY_FILE } from './support/test-gateway.js';
import { createTestDatabase, DATABASE_KINDS, demoData, type TestDatabase } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

interface DemoPerson {
  id: string;
  name: string;
  email: string;
  phone?: string;
}
const demoPeople = (demoData() as { people: DemoPerson[] }).people;
/** Every personal value of the demo data set: none may reach a log line, a metric or a span. */
const PERSONAL = demoPeople.flatMap((p) => [p.name, p.email, ...(p.phone === undefined ? [] : [p.phone])]);
const expectNothingPersonal = (text: string) => {
  for (const value of PERSONAL) expect(text).not.toContain(value);
  expect(text).not.toMatch(/per-\d-\d{4}/);
};

const policy = loadPolicyFile(POLICY_FILE);

async function post(url: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return {
    status: response.status,
    requestId: response.headers.get('x-request-id'),
    body: (await response.json()) as { data?: unknown; errors?: { extensions?: { code?: string } }[] },
  };
}

describe.each(DATABASE_KINDS)('operations endpoints and the request log (%s)', (kind) => {
  let database: TestDatabase;
  let keys: TestKeys;
  let running: RunningGateway;
  let base: string;
  const lines: Record<string, unknown>[] = [];
  let admin: string;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    keys = await createTestKeys();
    const logger = createLogger((line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const metrics = new GatewayMetrics(policy);
    const gateway = createGateway({
      database: database.app,
      policy,
      verifier: await createTokenVerifier(keys.auth),
      production: false,
      logger,
      ops: { metrics, readiness: createReadiness([databaseReadiness(database.app.db)]), requestLogger: logger },
    });
    running = await listen(gateway, '127.0.0.1', 0);
    base = running.url.replace(/\/graphql$/, '');
    admin = await keys.sign({ sub: 'ops-admin', roles: ['organizer_admin'], tenant: 'northwind-live' });
  });
  afterAll(async () => {
    await running?.close();
    await database?.destroy();
  });

  it('/healthz answers 200 without a token', async () => {
    const response = await fetch(`${base}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 when the database answers and is migrated, 503 naming a pending migration otherwise', async () => {
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    const [last] = await withScope(database.owner.db, { kind: 'maintenance' }, (trx) =>
      sql<{ name: string; timestamp: string }>`delete from custodian_migrations where name = (select max(name) from custodian_migrations) returning name, timestamp`.execute(trx).then((r) => r.rows),
    );
    try {
      const pending = await fetch(`${base}/readyz`);
      expect(pending.status).toBe(503);
      expect(await pending.json()).toEqual({ status: 'not ready', reasons: [`migrations pending: ${last!.name} (run npm run migrate)`] });
    } finally {
      await withScope(database.owner.db, { kind: 'maintenance' }, (trx) =>
        sql`insert into custodian_migrations (name, timestamp) values (${last!.name}, ${last!.timestamp})`.execute(trx),
      );
    }
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  });

  it('writes one log line per request with who, why, what and how it ended, and never a value', async () => {
    lines.length = 0;
    const ok = await post(running.url, { query: 'query Names { attendees(first: 5) { edges { node { name email } } } }' }, {
      authorization: `Bearer ${admin}`,
      'x-purpose': 'ticketing',
      'x-request-id': 'req-ops-1',
    });
    expect(ok.status).toBe(200);
    const refused = await post(running.url, { query: '{ attendees { edges { node { phone } } } }' }, { authorization: `Bearer ${admin}`, 'x-purpose': 'ticketing' });
    expect(refused.status).toBe(403);
    const anonymous = await post(running.url, { query: '{ events { edges { node { id } } } }' }, {});
    expect(anonymous.status).toBe(401);

    const requests = lines.filter((line) => line.event === 'request');
    expect(requests).toHaveLength(3);
    expect(ok.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(requests[0]).toMatchObject({
      level: 'info',
      // The gateway's own id, the one the access log holds; the caller's beside it.
      requestId: ok.requestId,
      correlationId: 'req-ops-1',
      role: 'organizer_admin',
      purpose: 'ticketing',
      tenant: 'northwind-live',
      operation: 'Names',
      outcome: 'ok',
      code: null,
      status: 200,
    });
    expect(typeof requests[0]!.durationMs).toBe('number');
    expect(requests[1]).toMatchObject({ outcome: 'refused', code: 'FIELD_NOT_PERMITTED', status: 403, role: 'organizer_admin' });
    expect(requests[2]).toMatchObject({ outcome: 'refused', code: 'UNAUTHENTICATED', status: 401, role: null, purpose: null });
    // The data the first request returned appears in no line.
    expect(JSON.stringify(ok.body)).toContain('@');
    expectNothingPersonal(JSON.stringify(lines));
  });

  it('/metrics counts requests by outcome, role and purpose, refusals by code, latencies, and names no person', async () => {
    await post(running.url, { query: '{ attendees(first: 3) { edges { node { name } } } }' }, { authorization: `Bearer ${admin}`, 'x-purpose': 'ticketing' });
    await post(running.url, { query: '{ attendees { edges { node { phone } } } }' }, { authorization: `Bearer ${admin}`, 'x-purpose': 'ticketing' });
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toMatch(/custodian_requests_total\{outcome="ok",role="organizer_admin",purpose="ticketing"\} [1-9]/);
    expect(text).toMatch(/custodian_requests_total\{outcome="refused",role="none",purpose="none"\} [1-9]/);
    expect(text).toMatch(/custodian_refusals_total\{code="FIELD_NOT_PERMITTED"\} [1-9]/);
    expect(text).toMatch(/custodian_refusals_total\{code="UNAUTHENTICATED"\} [1-9]/);
    expect(text).toMatch(/custodian_request_duration_seconds_count\{outcome="ok"\} [1-9]/);
    expect(text).toMatch(/custodian_access_log_write_seconds_count [1-9]/);
    if (kind === 'postgres') expect(text).toMatch(/custodian_db_pool_connections\{pool="app"\} [1-9]/);
    expectNothingPersonal(text);
    expect(text).not.toContain('ops-admin');
  });

  it('the operations endpoints run no GraphQL and leave no access-log entry', async () => {
    const count = () =>
      withScope(database.owner.db, { kind: 'maintenance' }, (trx) => sql<{ n: string }>`select count(*)::text as n from access_log`.execute(trx)).then((r) => r.rows[0]!.n);
    const before = await count();
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${base}${path}`)).status).toBe(200);
    expect(await count()).toBe(before);
  });
});

describe('an unreachable JWKS at start-up', () => {
  let jwks: Server;
  let available = false;
  let url: string;
  beforeAll(async () => {
    const keys = await createTestKeys();
    jwks = createServer((_req, res) => {
      if (!available) res.writeHead(503).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [keys.publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => jwks.close(() => resolve())));

  it('is retried with a log line per attempt; /readyz names it until the keys load', async () => {
    const events: Record<string, unknown>[] = [];
    let loaded!: () => void;
    const wasLoaded = new Promise<void>((resolve) => (loaded = resolve));
    let failedOnce!: () => void;
    const hasFailed = new Promise<void>((resolve) => (failedOnce = resolve));
    const logger = createLogger((line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      events.push(entry);
      if (entry.event === 'auth.jwks_unreachable') failedOnce();
      if (entry.event === 'auth.jwks_loaded') loaded();
    });
    const status = warmUpJwks(url, logger, { maxDelayMs: 200 });
    try {
      await hasFailed;
      const readiness = createReadiness([async () => status.problem()]);
      expect(await readiness.reasons()).toEqual([expect.stringMatching(/^signing keys not loaded: the JWKS at AUTH_JWKS_URL \(127\.0\.0\.1:\d+\) could not be fetched \(HTTP_503\)$/)]);
      expect(events[0]).toMatchObject({ level: 'warn', event: 'auth.jwks_unreachable', cause: 'HTTP_503', attempt: 1 });
      available = true;
      await wasLoaded;
      expect(await readiness.reasons()).toEqual([]);
      readiness.markShuttingDown();
      expect(await readiness.reasons()).toEqual(['shutting down']);
    } finally {
      status.stop();
    }
  });
});
