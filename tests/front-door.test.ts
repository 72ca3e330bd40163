import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { projectRoot } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { serveProcess, stopServed, type ServedProcess } from './support/serve-process.js';
import { createTestKeys, TEST_AUDIENCE, TEST_ISSUER } from './support/test-keys.js';

const run = promisify(execFile);
// Each test starts real processes (tsx, PGlite, migrations): generous on a loaded two-core machine.
vi.setConfig({ testTimeout: 600_000 });
const TSX = path.join(projectRoot, 'node_modules', '.bin', 'tsx');
const children: ServedProcess[] = [];

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['DATABASE_URL', 'MIGRATE_DATABASE_URL', 'AUTH_JWKS_URL', 'AUTH_PUBLIC_KEY_FILE', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'NODE_ENV', 'PORT']) {
    delete env[name];
  }
  return { ...env, ...extra };
}

/** Starts `npm start`'s program and resolves with its URL once it serves, or rejects with its output if it exits. */
async function serve(env: NodeJS.ProcessEnv): Promise<{ url: string; served: ServedProcess }> {
  const served = serveProcess(Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined)));
  children.push(served);
  const listening = await served.waitFor((line) => line['event'] === 'gateway.listening');
  return { url: String(listening['url']), served };
}

async function graphql(url: string, token: string, purpose: string, query: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': purpose },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, body: (await response.json()) as { data?: Record<string, unknown>; errors?: { extensions?: { code?: string } }[] } };
}

afterEach(async () => {
  await Promise.all(children.splice(0).map(stopServed));
});

describe('npm start on the embedded database', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-front-door-'));
  const env = cleanEnv({ DATA_DIR: dataDir, PORT: '0' });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('migrates, loads the demo data, serves GraphiQL and answers a token from npm run token', async () => {
    const { url, served } = await serve(env);
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('GraphiQL');

    const { stdout } = await run(TSX, ['src/cli/token.ts', '--role', 'organizer_admin', '--tenant', 'northwind-live'], { cwd: projectRoot, env });
    const token = stdout.trim();
    const answer = await graphql(url, token, 'ticketing', '{ viewer { tenant } events { edges { node { id } } } }');
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({
      viewer: { tenant: 'northwind-live' },
      events: { edges: [{ node: { id: 'evt-nl-1' } }, { node: { id: 'evt-nl-2' } }, { node: { id: 'evt-nl-3' } }] },
    });

    // PGlite is single-process: a second server on the same folder is refused, clearly.
    await expect(serve(env)).rejects.toThrow(/in use by process \d+/);
    await stopServed(served);
  });

  it('does not load the demo data twice', async () => {
    const { served } = await serve(env);
    await stopServed(served);
    const database = await openDatabase({ dataDir });
    try {
      const people = await database.db.selectFrom('people').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(Number(people.n)).toBe(60);
    } finally {
      await database.db.destroy();
    }
  });

  it('refuses a token for an unknown role, and a tenant role without --tenant', async () => {
    await expect(run(TSX, ['src/cli/token.ts', '--role', 'overlord'], { cwd: projectRoot, env })).rejects.toMatchObject({
      stderr: expect.stringContaining('Unknown role "overlord"'),
    });
    await expect(run(TSX, ['src/cli/token.ts', '--role', 'organizer_admin'], { cwd: projectRoot, env })).rejects.toMatchObject({
      stderr: expect.stringContaining('add --tenant T'),
    });
  });
});

describe.runIf(DATABASE_KINDS.includes('postgres'))('production on PostgreSQL', () => {
  let database: TestDatabase;
  afterAll(async () => {
    await database?.destroy();
  });

  it('serves as custodian_app with a key file, without introspection, and refuses to serve as the owner', async () => {
    database = await createTestDatabase('postgres', { seed: false });
    const keys = await createTestKeys();
    const migrate = await run(TSX, ['src/cli/migrate.ts'], {
      cwd: projectRoot,
      env: cleanEnv({ DATABASE_URL: database.ownerUrl!, APP_DB_PASSWORD: 'custodian-test' }),
    });
    expect(migrate.stdout).toContain('up to date');
    const production = {
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      AUTH_PUBLIC_KEY_FILE: keys.publicKeyFile,
      AUTH_ISSUER: TEST_ISSUER,
      AUTH_AUDIENCE: TEST_AUDIENCE,
    };
    await expect(serve(cleanEnv({ ...production, DATABASE_URL: database.ownerUrl! }))).rejects.toThrow(/Refusing to serve: database role "postgres" is a superuser/);

    const { url } = await serve(cleanEnv({ ...production, DATABASE_URL: database.appUrl! }));
    const token = await keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
    const viewer = await graphql(url, token, 'ticketing', '{ viewer { role } }');
    expect(viewer.body.data).toEqual({ viewer: { role: 'organizer_admin' } });
    const introspection = await graphql(url, token, 'ticketing', '{ __schema { types { name } } }');
    expect(introspection.body.data?.['__schema']).toBeUndefined();
    expect(introspection.body.errors?.length).toBeGreaterThan(0);
    const page = await fetch(url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toContain('GraphiQL');
  });
});
