import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertDatabaseEnforces } from '../src/bootstrap.js';
import { accessPolicyHash, writeAccessPolicy } from '../src/db/access-policy.js';
import { databasePolicy } from '../src/policy/database-policy.js';
import { loadPolicyFile } from '../src/policy/policy.js';
import { createTestDatabase, DATABASE_KINDS, rawAsApp, type TestDatabase } from './support/test-database.js';
import { POLICY_FILE } from './support/test-gateway.js';

/*
 * The masking views enforce the policy as the database holds it (access_policy, written by
 * npm run migrate): the gateway must never serve with a policy the database does not enforce.
 */
describe.each(DATABASE_KINDS)('the policy the database enforces (%s)', (kind) => {
  let database: TestDatabase;
  const policy = loadPolicyFile(POLICY_FILE);
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('holds the project policy after migration, and the gateway accepts it', async () => {
    expect(await accessPolicyHash(database.app.db)).toBe(databasePolicy(policy).hash);
    await expect(assertDatabaseEnforces(database.app, policy)).resolves.toBeUndefined();
  });

  it('refuses a policy file that differs from what the database enforces', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-policy-')), 'policy.yaml');
    // Door staff would read phones: the views still mask them, so the gateway must not start.
    fs.writeFileSync(file, fs.readFileSync(POLICY_FILE, 'utf8').replace('      event-reminders: full\n      customer-support: partial', '      event-checkin: full\n      event-reminders: full\n      customer-support: partial'));
    const edited = loadPolicyFile(file);
    expect(databasePolicy(edited).hash).not.toBe(databasePolicy(policy).hash);
    await expect(assertDatabaseEnforces(database.app, edited)).rejects.toThrow(/different access policy than POLICY_FILE: run npm run migrate/);
  });

  it('the application role cannot change the policy the views apply', async () => {
    await expect(rawAsApp(database, `update access_policy set levels = '{}'`, { scope: 'platform', purpose: 'legal-compliance' })).rejects.toThrow(/permission denied/);
    await expect(rawAsApp(database, `delete from access_policy`, { scope: 'platform', purpose: 'legal-compliance' })).rejects.toThrow(/permission denied/);
  });

  it('a purpose the database holds no row for reads nothing, and the gateway refuses an empty policy', async () => {
    const before = await rawAsApp(database, 'select person_id from masked.people', { scope: 'platform', purpose: 'customer-support' });
    expect(before.length).toBeGreaterThan(0);
    await sql`delete from access_policy where purpose = 'customer-support'`.execute(database.owner.db);
    try {
      expect(await rawAsApp(database, 'select person_id from masked.people', { scope: 'platform', purpose: 'customer-support' })).toEqual([]);
      await sql`delete from access_policy`.execute(database.owner.db);
      await expect(assertDatabaseEnforces(database.app, policy)).rejects.toThrow(/holds no access policy: run npm run migrate/);
    } finally {
      await writeAccessPolicy(database.owner.db, databasePolicy(policy));
    }
    expect(await rawAsApp(database, 'select person_id from masked.people', { scope: 'platform', purpose: 'customer-support' })).toEqual(before);
  });
});
