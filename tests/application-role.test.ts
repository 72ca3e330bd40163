import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase } from '../src/bootstrap.js';
import { loadConfig } from '../src/config.js';
import { openDatabase, type DatabaseHandle } from '../src/db/database.js';
import { APP_ROLE, GRANTS_ROLE, useApplicationRole } from '../src/db/request-scope.js';
import { inspectConnectedRole } from '../src/db/role-check.js';
import { importData } from '../src/privacy/import/import-data.js';
import { startTestGateway, type TestGateway } from './support/test-gateway.js';
import { demoData } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

const adminUrl = process.env.TEST_DATABASE_URL;

function urlFor(database: string, user?: string, password?: string): string {
  const url = new URL(adminUrl!);
  url.pathname = `/${database}`;
  if (user !== undefined) {
    url.username = user;
    url.password = password ?? '';
  }
  return url.toString();
}

async function admin<T>(work: (client: pg.Client) => Promise<T>, database?: string): Promise<T> {
  const client = new pg.Client({ connectionString: database === undefined ? adminUrl : urlFor(database) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function canLogIn(database: string, role: string, password: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: urlFor(database, role, password) });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

describe.runIf(adminUrl)('one application role per database on a shared server (APP_DB_ROLE)', () => {
  const suffix = randomBytes(4).toString('hex');
  const sites = [
    { database: `custodian_ra_${suffix}`, role: `custodian_app_a_${suffix}`, password: 'password-a' },
    { database: `custodian_rb_${suffix}`, role: `custodian_app_b_${suffix}`, password: 'password-b' },
  ];
  const owners: DatabaseHandle[] = [];
  let keys: TestKeys;

  beforeAll(async () => {
    keys = await createTestKeys();
    for (const site of sites) {
      await admin((client) => client.query(`create database ${site.database}`));
      const owner = await openDatabase({ url: urlFor(site.database), poolSize: 2 });
      owners.push(owner);
      const config = loadConfig({ APP_DB_ROLE: site.role, APP_DB_PASSWORD: site.password, DATABASE_URL: urlFor(site.database) });
      await migrateDatabase(owner, config);
      await importData(owner.db, demoData());
    }
  });
  afterAll(async () => {
    for (const owner of owners) await owner.close();
    for (const site of sites) {
      await admin((client) => client.query(`drop database if exists ${site.database} with (force)`));
    }
    for (const site of sites) await admin((client) => client.query(`drop role if exists ${site.role}`));
  });

  it("migrating one database leaves the other database's login alone", async () => {
    // The test server trusts loopback connections, so compare the stored password verifiers.
    const verifier = (role: string) =>
      admin((client) => client.query<{ p: string | null }>('select rolpassword as p from pg_authid where rolname = $1', [role]).then((r) => r.rows[0]?.p ?? null));
    const [a, b] = [await verifier(sites[0]!.role), await verifier(sites[1]!.role)];
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    // Re-migrate database B with a new password: A's role and password are untouched.
    const config = loadConfig({ APP_DB_ROLE: sites[1]!.role, APP_DB_PASSWORD: 'password-b2', DATABASE_URL: urlFor(sites[1]!.database) });
    await migrateDatabase(owners[1]!, config);
    expect(await verifier(sites[0]!.role)).toBe(a);
    expect(await verifier(sites[1]!.role)).not.toBe(b);
    expect(await canLogIn(sites[0]!.database, sites[0]!.role, 'password-a')).toBe(true);
  });

  it("each role reads only its own database's tables, and is no more powerful than custodian_app", async () => {
    const own = new pg.Client({ connectionString: urlFor(sites[0]!.database, sites[0]!.role, 'password-a') });
    await own.connect();
    try {
      const other = new pg.Client({ connectionString: urlFor(sites[1]!.database, sites[0]!.role, 'password-a') });
      await other.connect();
      try {
        await expect(other.query('select id from tenants')).rejects.toMatchObject({ code: '42501' });
        await expect(other.query(`select set_config('role', '${GRANTS_ROLE}', false)`)).rejects.toMatchObject({ code: '42501' });
      } finally {
        await other.end();
      }
    } finally {
      await own.end();
    }
    const handle = await openDatabase({ url: urlFor(sites[0]!.database, sites[0]!.role, 'password-a') });
    try {
      expect(await inspectConnectedRole(handle.db)).toEqual({ role: sites[0]!.role, superuser: false, bypassRls: false, ownsTables: [] });
    } finally {
      await handle.close();
    }
    // The copied privileges are exactly custodian_app's, table by table and column by column.
    const privileges = (role: string) =>
      admin(
        (client) =>
          client
            .query<{ p: string }>(
              `select c.relname || coalesce('.' || att.attname, '') || ':' || a.privilege_type as p
               from pg_class c join pg_namespace n on n.oid = c.relnamespace
               left join pg_attribute att on att.attrelid = c.oid and att.attacl is not null
               cross join lateral aclexplode(coalesce(att.attacl, c.relacl)) a
               where n.nspname = 'public' and a.grantee = $1::regrole order by 1`,
              [role],
            )
            .then((r) => r.rows.map((row) => row.p)),
        sites[0]!.database,
      );
    const copied = await privileges(sites[0]!.role);
    expect(copied.length).toBeGreaterThan(10);
    expect(copied).toEqual(await privileges(GRANTS_ROLE));
  });

  it("copies custodian_app's privileges in other schemas, on views and on functions, and takes back what it loses", async () => {
    const site = sites[0]!;
    await admin(async (client) => {
      await client.query('create schema extra');
      await client.query('create view extra.tenant_names as select id, name from tenants');
      await client.query('create function extra.answer() returns int language sql as $$ select 42 $$');
      await client.query('revoke all on function extra.answer() from public');
      await client.query(`grant usage on schema extra to ${GRANTS_ROLE}`);
      await client.query(`grant select on extra.tenant_names to ${GRANTS_ROLE}`);
      await client.query(`grant execute on function extra.answer() to ${GRANTS_ROLE}`);
    }, site.database);
    const config = loadConfig({ APP_DB_ROLE: site.role, DATABASE_URL: urlFor(site.database) });
    await migrateDatabase(owners[0]!, config);
    const can = () =>
      admin(
        (client) =>
          client
            .query<{ usage: boolean; view: boolean; fn: boolean }>(
              `select has_schema_privilege($1, 'extra', 'USAGE') as usage,
                      has_table_privilege($1, 'extra.tenant_names', 'SELECT') as view,
                      has_function_privilege($1, 'extra.answer()', 'EXECUTE') as fn`,
              [site.role],
            )
            .then((r) => r.rows[0]),
        site.database,
      );
    expect(await can()).toEqual({ usage: true, view: true, fn: true });
    // A privilege custodian_app loses, the copy loses at the next migrate.
    await admin((client) => client.query(`revoke execute on function extra.answer() from ${GRANTS_ROLE}`), site.database);
    await migrateDatabase(owners[0]!, config);
    expect(await can()).toEqual({ usage: true, view: true, fn: false });
  });

  describe('the gateway serving as its database role', () => {
    let app: DatabaseHandle;
    let gateway: TestGateway;
    beforeAll(async () => {
      useApplicationRole(sites[0]!.role);
      app = await openDatabase({ url: urlFor(sites[0]!.database, sites[0]!.role, 'password-a') });
      gateway = await startTestGateway({ database: app, auth: keys.auth });
    });
    afterAll(async () => {
      await gateway?.close();
      await app?.close();
      useApplicationRole(GRANTS_ROLE);
    });

    it('reads through row-level security and writes its access-log entry', async () => {
      expect(APP_ROLE).toBe(sites[0]!.role);
      const token = await keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
      const answer = await gateway.request<{ attendees: { edges: { node: { name: string } }[] } }>({
        query: '{ attendees(first: 3) { edges { node { name } } } }',
        token,
        purpose: 'ticketing',
      });
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data!.attendees.edges).toHaveLength(3);
      const entries = await admin((client) => client.query<{ n: string }>('select count(*)::text as n from access_log'), sites[0]!.database);
      expect(Number(entries.rows[0]!.n)).toBeGreaterThan(0);
      // Another tenant's rows stay invisible to it.
      const other = await gateway.request<{ event: unknown }>({ query: '{ event(id: "evt-hj-1") { id } }', token, purpose: 'ticketing' });
      expect(other.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    });
  });
});
