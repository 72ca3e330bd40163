import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64url, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters } from 'jose';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { startTestGateway, type GraphQLResponse, type TestGateway } from './support/test-gateway.js';
import { createTestKeys, TEST_AUDIENCE, TEST_ISSUER, TEST_KID, type TestKeys } from './support/test-keys.js';
import type { AuthConfig } from '../src/config.js';

const VIEWER = 'query Viewer { viewer { sub role tenant purpose } }';
// Reads rows, so a request that gets through is visible in the statement counter.
const EVENTS = 'query Events { viewer { tenant } events(first: 3) { edges { node { id name } } } }';

type Body = GraphQLResponse['body'];

interface RawResponse {
  status: number;
  body: Body;
  text: string;
}

/** Keys an attacker might hold, or be able to produce, next to the gateway's real one. */
interface KeyRing {
  real: TestKeys;
  /** Another RSA key pair: a forger's own key. */
  otherRsa: { privateKey: CryptoKey; publicJwk: JWK };
  otherEc: { privateKey: CryptoKey };
}

const now = (): number => Math.floor(Date.now() / 1000);

/** Claims the gateway accepts when signed by the real key; each forgery changes exactly one thing. */
function baseClaims(): Record<string, unknown> {
  return {
    sub: 'forger',
    roles: ['organizer_admin'],
    tenant: 'northwind-live',
    iss: TEST_ISSUER,
    aud: TEST_AUDIENCE,
    iat: now(),
    exp: now() + 300,
    jti: 'forged-jti',
  };
}

function without(claims: Record<string, unknown>, name: string): Record<string, unknown> {
  const copy = { ...claims };
  delete copy[name];
  return copy;
}

async function sign(
  key: CryptoKey | Uint8Array,
  claims: Record<string, unknown>,
  header: JWTHeaderParameters = { alg: 'RS256', kid: TEST_KID, typ: 'JWT' },
): Promise<string> {
  return new SignJWT(claims).setProtectedHeader(header).sign(key);
}

const encodeJson = (value: unknown): string => base64url.encode(JSON.stringify(value));

function decodeSegment(segment: string): Record<string, unknown> {
  return JSON.parse(new TextDecoder().decode(base64url.decode(segment))) as Record<string, unknown>;
}

/** Swaps the payload of a genuinely signed token and keeps its header and signature. */
function tamper(token: string, change: (payload: Record<string, unknown>) => void): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = decodeSegment(payload);
  change(claims);
  return `${header}.${encodeJson(claims)}.${signature}`;
}

async function post(url: string, headers: Record<string, string>, query = VIEWER): Promise<RawResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as Body, text };
}

function expectNoData(response: RawResponse): void {
  expect(response.body.data ?? null).toBeNull();
  // Not even a partial result: nothing of the viewer or of any row may appear anywhere.
  expect(response.text).not.toMatch(/"viewer"|"events"|"edges"|northwind|harbor|civic/);
}

/** The message may say what is wrong with a token, never repeat the token or any of its parts. */
function expectNotEchoed(response: RawResponse, secret: string): void {
  expect(response.text).not.toContain(secret);
  for (const part of secret.split('.')) {
    if (part.length >= 8) expect(response.text).not.toContain(part);
  }
}

function expectUnauthenticated(response: RawResponse): void {
  expect(response.status).toBe(401);
  expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expectNoData(response);
}

function expectRefusedFor(response: RawResponse, status: number, code: string): void {
  expect(response.status).toBe(status);
  expect(response.body.errors?.[0]?.extensions?.code).toBe(code);
  expectNoData(response);
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

interface ForgeryCase {
  name: string;
  forge: (keys: KeyRing) => Promise<string>;
}

const FORGED_TOKENS: ForgeryCase[] = [
  {
    name: 'alg none with an empty signature',
    forge: async () => `${encodeJson({ alg: 'none', typ: 'JWT' })}.${encodeJson(baseClaims())}.`,
  },
  {
    name: 'alg none carrying the real kid',
    forge: async () => `${encodeJson({ alg: 'none', kid: TEST_KID, typ: 'JWT' })}.${encodeJson(baseClaims())}.`,
  },
  {
    name: 'alg NONE (upper case) with an empty signature',
    forge: async () => `${encodeJson({ alg: 'NONE', typ: 'JWT' })}.${encodeJson(baseClaims())}.`,
  },
  {
    name: 'HS256 keyed with the public key PEM text',
    forge: async ({ real }) =>
      sign(new TextEncoder().encode(real.publicPem), baseClaims(), { alg: 'HS256', kid: TEST_KID, typ: 'JWT' }),
  },
  {
    name: 'HS256 keyed with the bytes of the public JWK modulus n',
    forge: async ({ real }) =>
      sign(base64url.decode(real.publicJwk.n!), baseClaims(), { alg: 'HS256', kid: TEST_KID, typ: 'JWT' }),
  },
  {
    name: 'HS256 keyed with the text of the public JWK modulus n',
    forge: async ({ real }) =>
      sign(new TextEncoder().encode(real.publicJwk.n!), baseClaims(), { alg: 'HS256', kid: TEST_KID, typ: 'JWT' }),
  },
  {
    name: 'HS256 keyed with the JWKS document',
    forge: async ({ real }) =>
      sign(new TextEncoder().encode(JSON.stringify({ keys: [real.publicJwk] })), baseClaims(), { alg: 'HS256', typ: 'JWT' }),
  },
  {
    name: 'RS512 signed by the real private key (algorithm outside the allow-list)',
    forge: async ({ real }) => {
      const { alg: _alg, ...jwk } = await exportJWK(real.privateKey);
      return sign(await importJWK(jwk, 'RS512'), baseClaims(), { alg: 'RS512', kid: TEST_KID, typ: 'JWT' });
    },
  },
  {
    name: 'expired (exp a minute ago)',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), iat: now() - 600, exp: now() - 60 }),
  },
  {
    name: 'expired via setExpirationTime in the past',
    forge: async ({ real }) =>
      new SignJWT(without(baseClaims(), 'exp'))
        .setProtectedHeader({ alg: 'RS256', kid: TEST_KID })
        .setExpirationTime(now() - 3600)
        .sign(real.privateKey),
  },
  {
    name: 'no exp',
    forge: async ({ real }) => sign(real.privateKey, without(baseClaims(), 'exp')),
  },
  {
    name: 'exp as a string',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), exp: String(now() + 300) }),
  },
  {
    name: 'not valid yet (nbf in an hour)',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), nbf: now() + 3600 }),
  },
  {
    name: 'wrong iss',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), iss: 'https://evil.example' }),
  },
  {
    name: 'iss with a trailing slash',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), iss: `${TEST_ISSUER}/` }),
  },
  {
    name: 'missing iss',
    forge: async ({ real }) => sign(real.privateKey, without(baseClaims(), 'iss')),
  },
  {
    name: 'wrong aud',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), aud: 'some-other-service' }),
  },
  {
    name: 'aud list without the gateway',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), aud: ['some-other-service', 'another'] }),
  },
  {
    name: 'missing aud',
    forge: async ({ real }) => sign(real.privateKey, without(baseClaims(), 'aud')),
  },
  {
    name: "unknown kid (another RSA key, kid 'other-key')",
    forge: async ({ otherRsa }) => sign(otherRsa.privateKey, baseClaims(), { alg: 'RS256', kid: 'other-key', typ: 'JWT' }),
  },
  {
    name: 'another RSA key claiming the real kid',
    forge: async ({ otherRsa }) => sign(otherRsa.privateKey, baseClaims()),
  },
  {
    name: 'another RSA key without a kid',
    forge: async ({ otherRsa }) => sign(otherRsa.privateKey, baseClaims(), { alg: 'RS256', typ: 'JWT' }),
  },
  {
    name: 'an ES256 key claiming the real kid',
    forge: async ({ otherEc }) => sign(otherEc.privateKey, baseClaims(), { alg: 'ES256', kid: TEST_KID, typ: 'JWT' }),
  },
  {
    name: "another key embedding its own public key in the header ('jwk')",
    forge: async ({ otherRsa }) =>
      sign(otherRsa.privateKey, baseClaims(), { alg: 'RS256', kid: TEST_KID, jwk: otherRsa.publicJwk, typ: 'JWT' }),
  },
  {
    name: "another key pointing at its own key set ('jku')",
    forge: async ({ otherRsa }) =>
      sign(otherRsa.privateKey, baseClaims(), { alg: 'RS256', kid: TEST_KID, jku: 'http://127.0.0.1:9/jwks.json', typ: 'JWT' }),
  },
  {
    name: 'tampered payload: tenant changed to another tenant',
    forge: async ({ real }) =>
      tamper(await real.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' }), (claims) => {
        claims.tenant = 'harbor-jazz';
      }),
  },
  {
    name: 'tampered payload: role raised to a platform role',
    forge: async ({ real }) =>
      tamper(await real.sign({ roles: ['organizer_staff'], tenant: 'northwind-live' }), (claims) => {
        claims.roles = ['support_agent'];
      }),
  },
  {
    name: 'tampered payload: exp extended',
    forge: async ({ real }) =>
      tamper(await real.sign({ roles: ['organizer_admin'], tenant: 'northwind-live', ttl: '1s' }), (claims) => {
        claims.exp = now() + 86_400;
      }),
  },
  {
    name: 'signature of another token spliced onto this payload',
    forge: async ({ real }) => {
      const mine = await real.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
      const theirs = await real.sign({ roles: ['organizer_admin'], tenant: 'harbor-jazz' });
      const [header, , signature] = mine.split('.') as [string, string, string];
      return `${header}.${theirs.split('.')[1]!}.${signature}`;
    },
  },
  {
    name: 'signature stripped from a valid token',
    forge: async ({ real }) => {
      const [header, payload] = (await real.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' })).split('.');
      return `${header!}.${payload!}.`;
    },
  },
  {
    name: 'tenant role (organizer_admin) without a tenant claim',
    forge: async ({ real }) => sign(real.privateKey, without(baseClaims(), 'tenant')),
  },
  {
    name: 'tenant role with an empty tenant claim',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), tenant: '' }),
  },
  {
    name: 'tenant claim that is not a string',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), tenant: 42 }),
  },
  {
    name: 'only unknown roles',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), roles: ['superuser', 'admin', 'ORGANIZER_ADMIN'] }),
  },
  {
    name: 'roles missing',
    forge: async ({ real }) => sign(real.privateKey, without(baseClaims(), 'roles')),
  },
  {
    name: 'roles a string, not an array',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), roles: 'organizer_admin' }),
  },
  {
    name: 'roles an object, not an array',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), roles: { 0: 'organizer_admin', length: 1 } }),
  },
  {
    name: 'roles an empty array',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), roles: [] }),
  },
  {
    name: 'purposes a string, not an array',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), purposes: 'ticketing' }),
  },
  {
    name: 'empty sub',
    forge: async ({ real }) => sign(real.privateKey, { ...baseClaims(), sub: '' }),
  },
  {
    name: 'missing sub',
    forge: async ({ real }) => sign(real.privateKey, without(baseClaims(), 'sub')),
  },
];

interface HeaderCase {
  name: string;
  headers: (validToken: string) => Record<string, string>;
}

const BAD_AUTHORIZATION: HeaderCase[] = [
  { name: 'no Authorization header', headers: () => ({}) },
  { name: 'an empty Authorization header', headers: () => ({ authorization: '' }) },
  { name: 'Basic credentials', headers: () => ({ authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` }) },
  { name: 'Basic carrying the valid token', headers: (token) => ({ authorization: `Basic ${token}` }) },
  { name: 'Bearer with garbage', headers: () => ({ authorization: 'Bearer this-is-not-a-jwt' }) },
  { name: 'Bearer with three garbage segments', headers: () => ({ authorization: 'Bearer aaa.bbb.ccc' }) },
  { name: 'Bearer with nothing after it', headers: () => ({ authorization: 'Bearer ' }) },
  { name: 'the valid token with no scheme', headers: (token) => ({ authorization: token }) },
  { name: 'the valid token after "Bearer:"', headers: (token) => ({ authorization: `Bearer:${token}` }) },
  { name: 'the valid token after "Token"', headers: (token) => ({ authorization: `Token ${token}` }) },
  { name: 'the valid token after "JWT"', headers: (token) => ({ authorization: `JWT ${token}` }) },
  { name: 'the valid token twice', headers: (token) => ({ authorization: `Bearer ${token} ${token}` }) },
  { name: 'the valid token with trailing text', headers: (token) => ({ authorization: `Bearer ${token} extra` }) },
  { name: 'the valid token quoted', headers: (token) => ({ authorization: `Bearer "${token}"` }) },
  { name: 'the valid token in X-Authorization', headers: (token) => ({ 'x-authorization': `Bearer ${token}` }) },
  { name: 'the valid token in X-Access-Token', headers: (token) => ({ 'x-access-token': token }) },
  { name: 'the valid token in a cookie', headers: (token) => ({ cookie: `token=${token}; access_token=${token}` }) },
];

describe.each(DATABASE_KINDS)('tokens over HTTP (%s)', (kind) => {
  let database: TestDatabase;
  let gateway: TestGateway;
  let keys: KeyRing;
  let validToken: string;

  beforeAll(async () => {
    const [real, otherRsa, otherEc, db] = await Promise.all([
      createTestKeys(),
      generateKeyPair('RS256', { extractable: true }),
      generateKeyPair('ES256'),
      createTestDatabase(kind),
    ]);
    database = db;
    keys = {
      real,
      otherRsa: { privateKey: otherRsa.privateKey, publicJwk: { ...(await exportJWK(otherRsa.publicKey)), kid: TEST_KID } },
      otherEc: { privateKey: otherEc.privateKey },
    };
    gateway = await startTestGateway({ database: database.app, auth: real.auth });
    validToken = await real.sign({ sub: 'alice', roles: ['organizer_admin'], tenant: 'northwind-live' });
  });

  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  /** Sends the request and proves it reached no SQL at all. */
  async function refusedWithoutSql(headers: Record<string, string>, query = EVENTS): Promise<RawResponse> {
    const before = database.app.statements.count;
    const response = await post(gateway.url, headers, query);
    expect(database.app.statements.count).toBe(before);
    return response;
  }

  describe('positive controls', () => {
    it('accepts a valid token and returns the viewer', async () => {
      const response = await post(gateway.url, { ...bearer(validToken), 'x-purpose': 'ticketing' });
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data).toEqual({
        viewer: { sub: 'alice', role: 'organizer_admin', tenant: 'northwind-live', purpose: 'ticketing' },
      });
    });

    it('accepts a token built by the forging helper from the base claims', async () => {
      // Every forgery below is these claims with one change; this shows the change is what is refused.
      const token = await sign(keys.real.privateKey, baseClaims());
      const response = await post(gateway.url, { ...bearer(token), 'x-purpose': 'ticketing' });
      expect(response.status).toBe(200);
      expect(response.body.data).toEqual({
        viewer: { sub: 'forger', role: 'organizer_admin', tenant: 'northwind-live', purpose: 'ticketing' },
      });
    });

    it('counts the SQL of an admitted request that reads rows', async () => {
      const before = database.app.statements.count;
      const response = await post(gateway.url, { ...bearer(validToken), 'x-purpose': 'ticketing' }, EVENTS);
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      expect(database.app.statements.count).toBeGreaterThan(before);
    });

    it('uses the first role that knows the purpose', async () => {
      const token = await keys.real.sign({ roles: ['unknown-role', 'organizer_staff', 'organizer_admin'], tenant: 'harbor-jazz' });
      const response = await post(gateway.url, { ...bearer(token), 'x-purpose': 'ticketing' });
      expect(response.status).toBe(200);
      expect(response.body.data).toEqual({
        viewer: { sub: 'test-user', role: 'organizer_admin', tenant: 'harbor-jazz', purpose: 'ticketing' },
      });
    });

    it('ignores the tenant claim of a platform role', async () => {
      const token = await keys.real.sign({ roles: ['support_agent'], tenant: 'harbor-jazz' });
      const response = await post(gateway.url, { ...bearer(token), 'x-purpose': 'customer-support' });
      expect(response.status).toBe(200);
      expect(response.body.data).toEqual({
        viewer: { sub: 'test-user', role: 'support_agent', tenant: null, purpose: 'customer-support' },
      });
    });
  });

  describe('refused tokens', () => {
    it.each(FORGED_TOKENS)('refuses $name with 401, no data and no SQL', async ({ forge }) => {
      const token = await forge(keys);
      const response = await refusedWithoutSql({ ...bearer(token), 'x-purpose': 'ticketing' });
      expectUnauthenticated(response);
      expectNotEchoed(response, token);
    });

    it.each(BAD_AUTHORIZATION)('refuses $name with 401, no data and no SQL', async ({ headers }) => {
      const response = await refusedWithoutSql({ ...headers(validToken), 'x-purpose': 'ticketing' });
      expectUnauthenticated(response);
      expectNotEchoed(response, validToken);
    });

    it('refuses the valid token passed in the URL instead of the header', async () => {
      const before = database.app.statements.count;
      const url = new URL(gateway.url);
      url.searchParams.set('access_token', validToken);
      url.searchParams.set('token', validToken);
      url.searchParams.set('query', VIEWER);
      const response = await fetch(url, { headers: { accept: 'application/json', 'x-purpose': 'ticketing' } });
      const text = await response.text();
      const refused: RawResponse = { status: response.status, body: JSON.parse(text) as Body, text };
      expectUnauthenticated(refused);
      expect(database.app.statements.count).toBe(before);
    });

    it('refuses a token that expired while it was held', async () => {
      // A gateway without clock tolerance, so the test waits for the expiry itself and no longer
      // (the default 30 s tolerance is covered in token-lifetime.test.ts).
      const strict = await startTestGateway({ database: database.app, auth: { ...keys.real.auth, clockToleranceSeconds: 0 } });
      try {
        const token = await keys.real.sign({ roles: ['organizer_admin'], tenant: 'northwind-live', ttl: '2s' });
        const first = await post(strict.url, { ...bearer(token), 'x-purpose': 'ticketing' });
        expect(first.status).toBe(200);
        // jose compares whole seconds; wait until the exp second itself has begun, no longer.
        const exp = decodeSegment(token.split('.')[1]!).exp as number;
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp * 1000 - Date.now()) + 20));
        const before = database.app.statements.count;
        expectUnauthenticated(await post(strict.url, { ...bearer(token), 'x-purpose': 'ticketing' }, EVENTS));
        expect(database.app.statements.count).toBe(before);
      } finally {
        await strict.close();
      }
    });

    it('checks the token before the query: an unparsable query with no token is still 401', async () => {
      const response = await refusedWithoutSql({ 'x-purpose': 'ticketing' }, '{ this is not graphql');
      expectUnauthenticated(response);
    });
  });

  describe('declared purpose', () => {
    it('refuses a request without X-Purpose with 403 PURPOSE_REQUIRED', async () => {
      expectRefusedFor(await refusedWithoutSql(bearer(validToken)), 403, 'PURPOSE_REQUIRED');
    });

    it('refuses a blank X-Purpose with 403 PURPOSE_REQUIRED', async () => {
      expectRefusedFor(await refusedWithoutSql({ ...bearer(validToken), 'x-purpose': '   ' }), 403, 'PURPOSE_REQUIRED');
    });

    it("refuses a declared purpose that is not the role's with 403 PURPOSE_NOT_PERMITTED", async () => {
      const response = await refusedWithoutSql({ ...bearer(validToken), 'x-purpose': 'customer-support' });
      expectRefusedFor(response, 403, 'PURPOSE_NOT_PERMITTED');
    });

    it.each(['world-domination', 'Ticketing', 'ticketing,marketing', "ticketing'; drop table events; --", '<script>x</script>'])(
      'refuses the undeclared purpose %j with 403 PURPOSE_NOT_PERMITTED without echoing it',
      async (purpose) => {
        const response = await refusedWithoutSql({ ...bearer(validToken), 'x-purpose': purpose });
        expectRefusedFor(response, 403, 'PURPOSE_NOT_PERMITTED');
        expect(response.body.errors?.[0]?.message).not.toContain(purpose);
        expectNotEchoed(response, validToken);
      },
    );

    it("narrows to the token's purposes: event-communication only, ticketing refused", async () => {
      const token = await keys.real.sign({ roles: ['organizer_admin'], tenant: 'northwind-live', purposes: ['event-communication'] });
      const refused = await refusedWithoutSql({ ...bearer(token), 'x-purpose': 'ticketing' });
      expectRefusedFor(refused, 403, 'PURPOSE_NOT_PERMITTED');
      expectNotEchoed(refused, token);

      const allowed = await post(gateway.url, { ...bearer(token), 'x-purpose': 'event-communication' });
      expect(allowed.status).toBe(200);
      expect(allowed.body.data).toEqual({
        viewer: { sub: 'test-user', role: 'organizer_admin', tenant: 'northwind-live', purpose: 'event-communication' },
      });
    });

    it('refuses every purpose for a token with an empty purposes list', async () => {
      const token = await keys.real.sign({ roles: ['organizer_admin'], tenant: 'northwind-live', purposes: [] });
      for (const purpose of ['ticketing', 'event-communication', 'marketing']) {
        expectRefusedFor(await refusedWithoutSql({ ...bearer(token), 'x-purpose': purpose }), 403, 'PURPOSE_NOT_PERMITTED');
      }
    });

    it('does not let the purposes claim widen the role', async () => {
      const token = await keys.real.sign({ roles: ['organizer_staff'], tenant: 'northwind-live', purposes: ['ticketing', 'event-checkin'] });
      expectRefusedFor(await refusedWithoutSql({ ...bearer(token), 'x-purpose': 'ticketing' }), 403, 'PURPOSE_NOT_PERMITTED');
      const allowed = await post(gateway.url, { ...bearer(token), 'x-purpose': 'event-checkin' });
      expect(allowed.status).toBe(200);
    });
  });

  describe('key sources', () => {
    async function viewerThrough(auth: AuthConfig, token: string): Promise<RawResponse> {
      const other = await startTestGateway({ database: database.app, auth });
      try {
        return await post(other.url, { ...bearer(token), 'x-purpose': 'ticketing' });
      } finally {
        await other.close();
      }
    }

    const expectedViewer = {
      viewer: { sub: 'alice', role: 'organizer_admin', tenant: 'northwind-live', purpose: 'ticketing' },
    };

    it('accepts the valid token with the JWKS file', async () => {
      const response = await viewerThrough({ ...keys.real.auth, publicKeyFile: keys.real.jwksFile }, validToken);
      expect(response.status).toBe(200);
      expect(response.body.data).toEqual(expectedViewer);
    });

    it('accepts the valid token (which carries a kid) with the PEM file', async () => {
      const response = await viewerThrough({ ...keys.real.auth, publicKeyFile: keys.real.publicKeyFile }, validToken);
      expect(response.body.errors).toBeUndefined();
      expect(response.status).toBe(200);
      expect(response.body.data).toEqual(expectedViewer);
    });

    it('accepts a token without a kid with the PEM file', async () => {
      const token = await sign(keys.real.privateKey, baseClaims(), { alg: 'RS256', typ: 'JWT' });
      const response = await viewerThrough({ ...keys.real.auth, publicKeyFile: keys.real.publicKeyFile }, token);
      expect(response.status).toBe(200);
    });

    it('refuses another key with the PEM file, with or without the real kid', async () => {
      const auth = { ...keys.real.auth, publicKeyFile: keys.real.publicKeyFile };
      for (const header of [{ alg: 'RS256', kid: TEST_KID }, { alg: 'RS256' }]) {
        expectUnauthenticated(await viewerThrough(auth, await sign(keys.otherRsa.privateKey, baseClaims(), header)));
      }
      const confused = await sign(new TextEncoder().encode(keys.real.publicPem), baseClaims(), { alg: 'HS256' });
      expectUnauthenticated(await viewerThrough(auth, confused));
    });

    describe('AUTH_JWKS_URL', () => {
      let jwksServer: Server;
      let jwksUrl: string;
      let fetches = 0;

      beforeAll(async () => {
        jwksServer = createServer((request, response) => {
          if (request.url !== '/jwks.json') {
            response.writeHead(404).end();
            return;
          }
          fetches += 1;
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ keys: [keys.real.publicJwk] }));
        });
        await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
        jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
      });

      afterAll(async () => {
        jwksServer.closeAllConnections();
        await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
      });

      const remote = (url: string): AuthConfig => ({ jwksUrl: url, publicKeyFile: undefined, issuer: TEST_ISSUER, audience: TEST_AUDIENCE, maxTokenAgeSeconds: 86_400, clockToleranceSeconds: 30 });

      it('accepts the valid token with keys fetched from the URL', async () => {
        const before = fetches;
        const response = await viewerThrough(remote(jwksUrl), validToken);
        expect(response.status).toBe(200);
        expect(response.body.data).toEqual(expectedViewer);
        expect(fetches).toBeGreaterThan(before);
      });

      it('refuses forgeries with keys fetched from the URL', async () => {
        const other = await startTestGateway({ database: database.app, auth: remote(jwksUrl) });
        try {
          for (const { forge } of FORGED_TOKENS.slice(0, 8)) {
            expectUnauthenticated(await post(other.url, { ...bearer(await forge(keys)), 'x-purpose': 'ticketing' }));
          }
          const sameKid = await sign(keys.otherRsa.privateKey, baseClaims());
          expectUnauthenticated(await post(other.url, { ...bearer(sameKid), 'x-purpose': 'ticketing' }));
        } finally {
          await other.close();
        }
      });

      it('fails closed when the key set cannot be fetched', async () => {
        const missing = jwksUrl.replace('/jwks.json', '/missing.json');
        const response = await viewerThrough(remote(missing), validToken);
        expectUnauthenticated(response);
        expectNotEchoed(response, validToken);
      });
    });
  });
});
