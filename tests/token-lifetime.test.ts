import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { ConfigurationError } from '../src/errors.js';
import { DATABASE_KINDS } from './support/test-database.js';
import { gatewayFixture } from './support/test-gateway.js';
import { TEST_AUDIENCE, TEST_ISSUER, TEST_KID } from './support/test-keys.js';

const now = (): number => Math.floor(Date.now() / 1000);
const YEAR = 365 * 24 * 3600;

describe('token lifetime configuration', () => {
  it('defaults to a 24 h maximum age and 30 s of clock tolerance, and reads both from the environment', () => {
    expect(loadConfig({}).auth).toMatchObject({ maxTokenAgeSeconds: 86_400, clockToleranceSeconds: 30 });
    expect(loadConfig({ AUTH_MAX_TOKEN_AGE: '1h', AUTH_CLOCK_TOLERANCE: '5' }).auth).toMatchObject({ maxTokenAgeSeconds: 3_600, clockToleranceSeconds: 5 });
    expect(() => loadConfig({ AUTH_MAX_TOKEN_AGE: 'forever' })).toThrow(ConfigurationError);
  });
});

describe.each(DATABASE_KINDS)('token lifetime over HTTP (%s)', (kind) => {
  const fixture = gatewayFixture(kind);

  /** Signs with the gateway's real key; only the time claims vary. */
  async function token(times: { iat?: number; exp?: number }): Promise<string> {
    const claims: Record<string, unknown> = { sub: 'clock', roles: ['organizer_admin'], tenant: 'northwind-live', iss: TEST_ISSUER, aud: TEST_AUDIENCE, ...times };
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: TEST_KID, typ: 'JWT' }).sign(fixture.keys.privateKey);
  }

  const ask = (jwt: string) => fixture.gateway.request({ query: '{ viewer { sub } }', token: jwt, purpose: 'ticketing' });

  async function expectRefused(jwt: string): Promise<string> {
    const response = await ask(jwt);
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(response.body.data ?? null).toBeNull();
    return response.body.errors![0]!.message;
  }

  it('accepts a token issued now for an hour (control)', async () => {
    const response = await ask(await token({ iat: now(), exp: now() + 3600 }));
    expect(response.status).toBe(200);
    expect(response.body.data).toEqual({ viewer: { sub: 'clock' } });
  });

  it('refuses an exp 100 years ahead', async () => {
    expect(await expectRefused(await token({ iat: now(), exp: now() + 100 * YEAR }))).toMatch(/maximum token age/);
  });

  it('refuses an iat 10 years in the future', async () => {
    await expectRefused(await token({ iat: now() + 10 * YEAR, exp: now() + 10 * YEAR + 60 }));
  });

  it('refuses an iat in the future beyond the tolerance (2 minutes)', async () => {
    await expectRefused(await token({ iat: now() + 120, exp: now() + 600 }));
  });

  it("accepts an issuer whose clock is 2 s ahead (iat 2 s in the future)", async () => {
    const response = await ask(await token({ iat: now() + 2, exp: now() + 600 }));
    expect(response.status).toBe(200);
  });

  it('accepts a token that expired 2 s ago, within the tolerance, and refuses one a minute past it', async () => {
    expect((await ask(await token({ iat: now() - 600, exp: now() - 2 }))).status).toBe(200);
    await expectRefused(await token({ iat: now() - 600, exp: now() - 60 }));
  });

  it('refuses a token older than the maximum age even when its exp is still ahead', async () => {
    expect(await expectRefused(await token({ iat: now() - 25 * 3600, exp: now() + 600 }))).toMatch(/older than the maximum token age/);
  });

  it('refuses a token without iat (its age cannot be known)', async () => {
    await expectRefused(await token({ exp: now() + 600 }));
  });
});
