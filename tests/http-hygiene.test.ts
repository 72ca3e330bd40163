import { createHash } from 'node:crypto';
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { startTestGateway, type TestGateway } from './support/test-gateway.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

const ALLOWED_ORIGIN = 'https://dashboard.example';
const FOREIGN_ORIGIN = 'https://evil.example';
const EVENTS = 'query Events { events(first: 2) { edges { node { id name } } } }';
const TRUSTED: Record<string, string> = { [createHash('sha256').update(EVENTS).digest('hex')]: EVENTS };
const TRUSTED_ID = Object.keys(TRUSTED)[0]!;

// graphql-http audits whose documents use __type, that is introspection, which production refuses
// on purpose. README lists them; nothing else may fail in production.
const INTROSPECTION_AUDITS = ['2EA1', '28B9', 'D6D5', '6A70'];

describe.each(DATABASE_KINDS)('HTTP hygiene (%s)', (kind) => {
  let database: TestDatabase;
  let keys: TestKeys;
  let development: TestGateway;
  let production: TestGateway;
  let adminToken: string;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    keys = await createTestKeys();
    development = await startTestGateway({ database: database.app, auth: keys.auth, gateway: { corsOrigins: [ALLOWED_ORIGIN] } });
    production = await startTestGateway({
      database: database.app,
      auth: keys.auth,
      production: true,
      gateway: { trustedDocuments: { documents: new Map(Object.entries(TRUSTED)), onlyForRoles: ['organizer_admin', 'organizer_staff'] } },
    });
    adminToken = await keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
  });
  afterAll(async () => {
    await development?.close();
    await production?.close();
    await database?.destroy();
  });

  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${adminToken}`, 'x-purpose': 'ticketing', ...headers },
      body: JSON.stringify(body),
    });

  describe('CORS', () => {
    it('does not allow a foreign origin, on a request or a preflight', async () => {
      // Yoga names the allowed origin rather than echoing the caller's: a browser on another origin
      // then refuses to hand the response to the page.
      const response = await post(development.url, { query: EVENTS }, { origin: FOREIGN_ORIGIN });
      expect([null, ALLOWED_ORIGIN]).toContain(response.headers.get('access-control-allow-origin'));
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
      const preflight = await fetch(development.url, {
        method: 'OPTIONS',
        headers: { origin: FOREIGN_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
      });
      expect([null, ALLOWED_ORIGIN]).toContain(preflight.headers.get('access-control-allow-origin'));
      expect(preflight.headers.get('access-control-allow-credentials')).toBeNull();
    });

    it('allows a listed origin, without credentials', async () => {
      const response = await post(development.url, { query: EVENTS }, { origin: ALLOWED_ORIGIN });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
      expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    });

    it('is off by default: no origin gets CORS headers', async () => {
      const response = await post(production.url, { extensions: { persistedQuery: { version: 1, sha256Hash: TRUSTED_ID } } }, { origin: ALLOWED_ORIGIN });
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  it('sends Cache-Control: no-store and nosniff on data, on refusals and on errors', async () => {
    const responses = [
      await post(development.url, { query: EVENTS }),
      await post(development.url, { query: EVENTS }, { authorization: 'Bearer nope.nope.nope' }),
      await post(development.url, { query: '{ attendees { edges { node { phone } } } }' }),
      await post(development.url, { query: `{ ${'a: __typename '.repeat(20_000)} }` }),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 403, 413]);
    for (const response of responses) {
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('gives no field suggestions in production, and does in development', async () => {
    const query = '{ events(frist: 5) { edges { node { nme } } } }';
    const prod = await (await post(production.url, { query }, { authorization: `Bearer ${await keys.sign({ roles: ['support_agent'] })}`, 'x-purpose': 'customer-support' })).text();
    expect(prod).not.toMatch(/Did you mean/i);
    expect(prod).not.toMatch(/"first"|"name"/);
    const dev = await (await post(development.url, { query })).text();
    expect(dev).toMatch(/Did you mean/);
  });

  describe('trusted documents', () => {
    it('runs a trusted document by its id for an organizer', async () => {
      const response = await post(production.url, { extensions: { persistedQuery: { version: 1, sha256Hash: TRUSTED_ID } } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as { data: { events: { edges: unknown[] } } };
      expect(body.data.events.edges).toHaveLength(2);
    });

    it('refuses an ad-hoc query from an organizer, and an unknown id', async () => {
      const adHoc = await post(production.url, { query: EVENTS });
      expect(adHoc.status).toBe(400);
      expect(((await adHoc.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('TRUSTED_DOCUMENT_REQUIRED');
      const unknown = await post(production.url, { extensions: { persistedQuery: { version: 1, sha256Hash: 'f'.repeat(64) } } });
      expect(unknown.status).toBe(400);
      expect(((await unknown.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('TRUSTED_DOCUMENT_NOT_FOUND');
    });

    it('lets a role not on the list send ad-hoc queries', async () => {
      const token = await keys.sign({ roles: ['support_agent'] });
      const response = await post(production.url, { query: EVENTS }, { authorization: `Bearer ${token}`, 'x-purpose': 'customer-support' });
      expect(response.status).toBe(200);
    });
  });

  describe('graphql-http audits', () => {
    /** The audits' own requests, with a caller's token and purpose added (every request needs them). */
    const authenticatedFetch = (token: () => string, purpose: string) => (input: RequestInfo | URL, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token()}`);
      headers.set('x-purpose', purpose);
      return fetch(input, { ...init, headers });
    };

    async function failingAudits(url: string, token: () => string, purpose: string): Promise<string[]> {
      const failing: string[] = [];
      for (const audit of serverAudits({ url, fetchFn: authenticatedFetch(token, purpose) })) {
        const result = await audit.fn();
        if (result.status !== 'ok') {
          failing.push(result.id);
          if (process.env.DEBUG_AUDITS) console.log(result.id, result.name, result.reason, (await result.response.text()).slice(0, 300));
        }
      }
      return failing;
    }

    it('passes whole against the development configuration', async () => {
      expect(await failingAudits(development.url, () => adminToken, 'ticketing')).toEqual([]);
    });

    it('fails in production only the audits that need introspection', async () => {
      const support = await keys.sign({ roles: ['support_agent'] });
      expect((await failingAudits(production.url, () => support, 'customer-support')).sort()).toEqual([...INTROSPECTION_AUDITS].sort());
    });
  });
});
