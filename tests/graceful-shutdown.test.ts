import { request as httpRequest } from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEV_ALGORITHM, loadOrCreateDevKeys } from '../src/auth/dev-keys.js';
import { mintToken } from '../src/auth/mint-token.js';
import { DEV_AUDIENCE, DEV_ISSUER } from '../src/config.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { serveProcess, stopServed, type ServedProcess } from './support/serve-process.js';

// A ceiling, not an expectation: each test starts Node, tsx and a database in a child process.
const CEILING = 600_000;
const QUERY = JSON.stringify({ query: '{ viewer { tenant } events { edges { node { id } } } }' });

let served: ServedProcess | undefined;
afterEach(async () => {
  await stopServed(served);
  served = undefined;
});

/** Sends headers now and the body only when `send` is called: a request the server is in the middle of. */
function startSlowRequest(url: string, token: string): { accepted: Promise<void>; send(): Promise<{ status: number; body: string }> } {
  let accepted!: () => void;
  const acceptedPromise = new Promise<void>((resolve) => (accepted = resolve));
  let answer!: (value: { status: number; body: string }) => void;
  let fail!: (error: Error) => void;
  const answered = new Promise<{ status: number; body: string }>((resolve, reject) => ((answer = resolve), (fail = reject)));
  const req = httpRequest(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(QUERY),
      authorization: `Bearer ${token}`,
      'x-purpose': 'ticketing',
      // The server answers "100 Continue" once it has the request: proof it is in flight.
      expect: '100-continue',
    },
  });
  req.on('continue', () => accepted());
  req.on('response', (response) => {
    let body = '';
    response.on('data', (chunk: Buffer) => (body += chunk.toString()));
    response.on('end', () => answer({ status: response.statusCode ?? 0, body }));
  });
  req.on('error', fail);
  req.flushHeaders();
  return {
    accepted: acceptedPromise,
    send: () => {
      req.end(QUERY);
      return answered;
    },
  };
}

describe.each(DATABASE_KINDS)('SIGTERM (%s)', (kind) => {
  let database: TestDatabase | undefined;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-shutdown-'));
    if (kind === 'postgres') database = await createTestDatabase('postgres');
  }, CEILING);
  afterAll(async () => {
    await database?.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops accepting, finishes the request in flight, closes the pool and exits 0', async () => {
    served = serveProcess({ DATA_DIR: dataDir, PORT: '0', METRICS_PORT: '0', ...(database ? { DATABASE_URL: database.appUrl! } : {}) });
    const listening = await served.waitFor((line) => line.event === 'gateway.listening');
    const url = String(listening.url);
    const metricsUrl = String(listening.metrics);
    const base = url.replace(/\/graphql$/, '');

    // METRICS_PORT: /metrics on its own port, not on the gateway's.
    expect(metricsUrl).not.toBe(`${base}/metrics`);
    expect((await fetch(metricsUrl)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).not.toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);

    const keys = await loadOrCreateDevKeys(dataDir);
    const token = await mintToken(keys.privateJwk, DEV_ALGORITHM, {
      sub: 'shutdown-test',
      roles: ['organizer_admin'],
      tenant: 'northwind-live',
      issuer: DEV_ISSUER,
      audience: DEV_AUDIENCE,
      ttl: '10m',
    });
    const slow = startSlowRequest(url, token);
    await slow.accepted;

    served.child.kill('SIGTERM');
    const started = await served.waitFor((line) => line.event === 'shutdown.started');
    expect(started).toMatchObject({ signal: 'SIGTERM', inFlight: 1 });
    // The listener is closed: a new connection is refused while the old request is still open.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();

    const answer = await slow.send();
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ data: { viewer: { tenant: 'northwind-live' } } });

    expect(await served.exited).toBe(0);
    expect(served.lines.some((line) => line.event === 'shutdown.complete')).toBe(true);
    expect(served.lines.some((line) => line.event === 'shutdown.requests_abandoned')).toBe(false);
  }, CEILING);
});

describe('start-up errors: one line, no stack, exit 1', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-startup-'));
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  async function failure(env: Record<string, string>): Promise<string> {
    served = serveProcess({ DATA_DIR: dataDir, PORT: '0', ...env });
    expect(await served.exited).toBe(1);
    const text = served.output().trim();
    expect(text).not.toMatch(/\n\s+at |Unexpected failure|lacks migrations/);
    return text;
  }

  it.each([
    ['garbage', 'DATABASE_URL is not a URL; expected postgres://user:password@host:5432/database.'],
    ['mysql://app@127.0.0.1/db', 'DATABASE_URL must start with postgres:// or postgresql://'],
    ['postgres://custodian_app:secret-pw@127.0.0.1:1/custodian', 'Cannot reach the database at custodian_app@127.0.0.1:1/custodian: connection refused'],
  ])('DATABASE_URL=%s', async (url, message) => {
    const text = await failure({ DATABASE_URL: url });
    expect(text).toContain(message);
    expect(text.split('\n')).toHaveLength(1);
    expect(text).not.toContain('secret-pw');
  }, CEILING);

  it.runIf(process.env.TEST_DATABASE_URL)('a database that does not exist, and a wrong password, on a real server', async () => {
    const server = new URL(process.env.TEST_DATABASE_URL!);
    server.pathname = '/custodian_no_such_database';
    expect(await failure({ DATABASE_URL: server.toString() })).toContain('does not exist: create it (createdb) and run npm run migrate');
    const wrongRole = new URL(process.env.TEST_DATABASE_URL!);
    wrongRole.username = 'custodian_no_such_role';
    wrongRole.password = 'nope';
    expect(await failure({ DATABASE_URL: wrongRole.toString() })).toMatch(/refused the (role|password) in DATABASE_URL/);
  }, CEILING);

  it.each([['256.1.1.1'], ['not a host name']])('HOST=%s', async (host) => {
    const text = await failure({ HOST: host });
    expect(text.split('\n').filter((line) => !line.startsWith('{'))).toEqual([expect.stringContaining(`Cannot listen on HOST "${host}"`)]);
  }, CEILING);

  it('an unreachable AUTH_JWKS_URL: serves, logs the retry, and /readyz says why', async () => {
    served = serveProcess({ DATA_DIR: dataDir, PORT: '0', AUTH_JWKS_URL: 'http://127.0.0.1:1/.well-known/jwks.json' });
    const listening = await served.waitFor((line) => line.event === 'gateway.listening');
    const unreachable = await served.waitFor((line) => line.event === 'auth.jwks_unreachable');
    expect(unreachable).toMatchObject({ level: 'warn', host: '127.0.0.1:1', attempt: 1 });
    const ready = await fetch(String(listening.url).replace(/\/graphql$/, '/readyz'));
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { reasons: string[] };
    expect(body.reasons).toEqual([expect.stringContaining('signing keys not loaded: the JWKS at AUTH_JWKS_URL (127.0.0.1:1) could not be fetched')]);
  }, CEILING);
});
