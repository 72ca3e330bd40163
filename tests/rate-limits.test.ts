import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type RateLimitConfig } from '../src/config.js';
import { ConfigurationError } from '../src/errors.js';
import { createCallerRateLimiter, type CallerRateLimiter } from '../src/limits/rate-limiter.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { startTestGateway, type TestGateway } from './support/test-gateway.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

const TENANT = 'northwind-live';
const EVENTS = '{ events(first: 1) { edges { node { id } } } }';

describe('rate limit configuration', () => {
  it('has generous defaults, takes 0 as off, and picks the store', () => {
    expect(loadConfig({}).rateLimit).toEqual({ subjectPerMinute: 600, tenantPerMinute: 3_000, store: 'memory', redisUrl: undefined });
    expect(loadConfig({ RATE_LIMIT_SUBJECT_PER_MINUTE: '0' }).rateLimit.subjectPerMinute).toBe(0);
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }).rateLimit.store).toBe('redis');
    expect(loadConfig({ RATE_LIMIT_STORE: 'postgres', DATABASE_URL: 'postgres://x@y/z' }).rateLimit.store).toBe('postgres');
    expect(() => loadConfig({ RATE_LIMIT_STORE: 'postgres' })).toThrow(ConfigurationError);
    expect(() => loadConfig({ RATE_LIMIT_STORE: 'memcached' })).toThrow(ConfigurationError);
    expect(() => loadConfig({ RATE_LIMIT_TENANT_PER_MINUTE: 'lots' })).toThrow(ConfigurationError);
  });
});

describe.each(DATABASE_KINDS)('rate limits over HTTP (%s)', (kind) => {
  let database: TestDatabase;
  let keys: TestKeys;
  const gateways: TestGateway[] = [];
  const limiters: CallerRateLimiter[] = [];

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    keys = await createTestKeys();
  });
  afterAll(async () => {
    for (const gateway of gateways) await gateway.close();
    for (const limiter of limiters) await limiter.close();
    await database?.destroy();
  });

  async function gatewayWith(config: Partial<RateLimitConfig>): Promise<TestGateway> {
    const limiter = await createCallerRateLimiter(
      { subjectPerMinute: 5, tenantPerMinute: 8, store: 'memory', redisUrl: undefined, ...config },
      database.appUrl,
    );
    limiters.push(limiter);
    const gateway = await startTestGateway({ database: database.app, auth: keys.auth, gateway: { rateLimiter: limiter } });
    gateways.push(gateway);
    return gateway;
  }

  const organizer = (sub: string) => keys.sign({ sub, roles: ['organizer_admin'], tenant: TENANT });

  async function send(gateway: TestGateway, token: string, purpose = 'ticketing') {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}`, 'x-purpose': purpose },
      body: JSON.stringify({ query: EVENTS }),
    });
    const body = (await response.json()) as { data?: unknown; errors?: { extensions?: Record<string, unknown> }[] };
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body };
  }

  function expectLimited(sent: Awaited<ReturnType<typeof send>>, scope: 'subject' | 'tenant'): void {
    expect(sent.status).toBe(429);
    expect(sent.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', scope });
    expect(sent.body.data ?? null).toBeNull();
    expect(Number(sent.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(sent.retryAfter)).toBeLessThanOrEqual(60);
  }

  it('answers a burst from one token up to its budget and refuses the rest with 429 and Retry-After', async () => {
    const gateway = await gatewayWith({ subjectPerMinute: 10, tenantPerMinute: 0 });
    const token = await organizer(`burst-${randomUUID()}`);
    const burst = await Promise.all(Array.from({ length: 30 }, () => send(gateway, token)));
    expect(burst.filter((r) => r.status === 200)).toHaveLength(10);
    const refused = burst.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(20);
    for (const sent of refused) expectLimited(sent, 'subject');
    // Another caller is not held back by the first one's budget.
    expect((await send(gateway, await organizer(`other-${randomUUID()}`))).status).toBe(200);
  });

  it("counts a request whose purpose is refused against the caller's budget too", async () => {
    const gateway = await gatewayWith({ subjectPerMinute: 2, tenantPerMinute: 0 });
    const token = await organizer(`purpose-${randomUUID()}`);
    expect((await send(gateway, token, 'analytics')).status).toBe(403);
    expect((await send(gateway, token, 'analytics')).status).toBe(403);
    expectLimited(await send(gateway, token), 'subject');
  });

  it("limits a tenant across its callers, and does not count a platform role's tenant claim", async () => {
    const gateway = await gatewayWith({ subjectPerMinute: 5, tenantPerMinute: 8 });
    const first = await organizer(`t1-${randomUUID()}`);
    const second = await organizer(`t2-${randomUUID()}`);
    for (let i = 0; i < 5; i += 1) expect((await send(gateway, first)).status).toBe(200);
    for (let i = 0; i < 3; i += 1) expect((await send(gateway, second)).status).toBe(200);
    expectLimited(await send(gateway, second), 'tenant');
    const support = await keys.sign({ sub: `support-${randomUUID()}`, roles: ['support_agent'], tenant: TENANT });
    expect((await send(gateway, support, 'customer-support')).status).toBe(200);
  });

  it('does not count requests whose token does not verify', async () => {
    const gateway = await gatewayWith({ subjectPerMinute: 1, tenantPerMinute: 0 });
    const sub = `forged-${randomUUID()}`;
    const forged = `${(await organizer(sub)).slice(0, -4)}AAAA`;
    for (let i = 0; i < 3; i += 1) expect((await send(gateway, forged)).status).toBe(401);
    expect((await send(gateway, await organizer(sub))).status).toBe(200);
  });

  it.runIf(kind === 'postgres')('shares one budget between gateway processes through PostgreSQL', async () => {
    const a = await gatewayWith({ subjectPerMinute: 5, tenantPerMinute: 0, store: 'postgres' });
    const b = await gatewayWith({ subjectPerMinute: 5, tenantPerMinute: 0, store: 'postgres' });
    const token = await organizer(`shared-${randomUUID()}`);
    for (let i = 0; i < 3; i += 1) expect((await send(a, token)).status).toBe(200);
    for (let i = 0; i < 2; i += 1) expect((await send(b, token)).status).toBe(200);
    expectLimited(await send(a, token), 'subject');
    expectLimited(await send(b, token), 'subject');
    // The table holds digests and counters, never the caller's identifier.
    const rows = await database.owner.db.selectFrom('rate_limits' as never).selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain('shared-');
    expect(rows.length).toBeGreaterThan(0);
  });

  it.runIf(kind === 'postgres' && process.env.TEST_REDIS_URL !== undefined)('shares one budget between gateway processes through Redis', async () => {
    const redis = { store: 'redis' as const, redisUrl: process.env.TEST_REDIS_URL, subjectPerMinute: 4, tenantPerMinute: 0 };
    const a = await gatewayWith(redis);
    const b = await gatewayWith(redis);
    const token = await organizer(`redis-${randomUUID()}`);
    for (let i = 0; i < 2; i += 1) expect((await send(a, token)).status).toBe(200);
    for (let i = 0; i < 2; i += 1) expect((await send(b, token)).status).toBe(200);
    expectLimited(await send(a, token), 'subject');
  });

  it('refuses to start on a Redis that does not answer', async () => {
    await expect(
      createCallerRateLimiter({ store: 'redis', redisUrl: 'redis://127.0.0.1:1', subjectPerMinute: 1, tenantPerMinute: 0 }, undefined),
    ).rejects.toThrow(/Redis does not answer/);
  });
});
