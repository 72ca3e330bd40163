import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { importData } from '../src/privacy/import/import-data.js';
import { createTestDatabase, demoData, type TestDatabase } from './support/test-database.js';

// A ceiling, not an expectation: each case starts Node and tsx (and reads a database).
const CEILING = 600_000;
const CLEAN = ['DATABASE_URL', 'MIGRATE_DATABASE_URL', 'TEST_DATABASE_URL', 'AUTH_JWKS_URL', 'AUTH_PUBLIC_KEY_FILE', 'NODE_ENV', 'DATA_DIR'];

function token(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !CLEAN.includes(key)));
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli/token.ts', ...args], { cwd: projectRoot, env: { ...base, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number(error.code ?? -1), stdout, stderr }),
    );
  });
}
const JWT = /^[\w-]+\.[\w-]+\.[\w-]+\n$/;

describe('npm run token checks tenants and persons against the database', () => {
  let dataDir: string;
  let postgres: TestDatabase | undefined;
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-token-'));
    const embedded = await openDatabase({ dataDir });
    await migrateToLatest(embedded.db);
    await importData(embedded.db, demoData());
    await embedded.close();
    if (process.env.TEST_DATABASE_URL) postgres = await createTestDatabase('postgres');
  }, CEILING);
  afterAll(async () => {
    await postgres?.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('refuses data_subject without --sub instead of picking a person', async () => {
    const result = await token(['--role', 'data_subject'], { DATA_DIR: dataDir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('Role data_subject is one person: add --sub PERSON_ID');
    expect(result.stdout).toBe('');
  }, CEILING);

  it('on the embedded database: refuses an unknown tenant and person, mints for known ones', async () => {
    const env = { DATA_DIR: dataDir };
    const [tenant, person, good, self] = [
      await token(['--role', 'organizer_admin', '--tenant', 'no-such-tenant'], env),
      await token(['--role', 'data_subject', '--sub', 'per-9-9999'], env),
      await token(['--role', 'organizer_admin', '--tenant', 'northwind-live'], env),
      await token(['--role', 'data_subject', '--sub', 'per-1-0002'], env),
    ];
    expect(tenant).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('No tenant "no-such-tenant" in the database.') });
    expect(person).toMatchObject({ code: 1, stdout: '', stderr: expect.stringContaining('No person "per-9-9999" in the database.') });
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(JWT);
    expect(self.stdout).toMatch(JWT);
  }, CEILING);

  it('says so, and still mints, while a running server holds the embedded database', async () => {
    const holder = await openDatabase({ dataDir });
    try {
      const result = await token(['--role', 'organizer_admin', '--tenant', 'northwind-live'], { DATA_DIR: dataDir });
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(JWT);
      expect(result.stderr).toContain('the embedded database is in use by the running server, so tenant "northwind-live" was not checked');
    } finally {
      await holder.close();
    }
  }, CEILING);

  it.runIf(process.env.TEST_DATABASE_URL)('with DATABASE_URL (the application role)', async () => {
    const env = { DATABASE_URL: postgres!.appUrl!, DATA_DIR: dataDir };
    const refused = await token(['--role', 'organizer_staff', '--tenant', 'no-such-tenant'], env);
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('No tenant "no-such-tenant" in the database.') });
    const minted = await token(['--role', 'data_subject', '--sub', 'per-1-0002'], env);
    expect(minted.code).toBe(0);
    expect(minted.stdout).toMatch(JWT);
  }, CEILING);
});
