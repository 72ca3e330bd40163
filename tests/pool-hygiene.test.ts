import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatabaseHandle } from '../src/db/database.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';
import { startTestGateway, type TestGateway } from './support/test-gateway.js';

const ATTENDEES_WITH_TICKETS = `query Door { attendees(first: 500) { edges { node { id name orders { id tickets { id } } } } } }`;

describe.each(DATABASE_KINDS)('pool hygiene with a pool of one connection (%s)', (kind) => {
  let database: TestDatabase;
  let pool: DatabaseHandle;
  let keys: TestKeys;
  let gateway: TestGateway;
  const tokenFor = (tenant: string) => keys.sign({ roles: ['organizer_admin'], tenant });
  const tenantAttendees = async (tenant: string) =>
    (await database.owner.db.selectFrom('attendees').select('id').where('tenant_id', '=', tenant).execute()).map((a) => a.id).sort();

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    pool = await database.openApp(1);
    keys = await createTestKeys();
    gateway = await startTestGateway({ database: pool, auth: keys.auth });
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  async function attendeeIds(tenant: string): Promise<string[]> {
    const response = await gateway.request<{ attendees: { edges: { node: { id: string } }[] } }>({
      query: ATTENDEES_WITH_TICKETS,
      token: await tokenFor(tenant),
      purpose: 'ticketing',
    });
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    return response.body.data!.attendees.edges.map((e) => e.node.id).sort();
  }

  async function connectionSettings() {
    const result = await sql<{ scope: string | null; tenant: string | null; role: string }>`
      select current_setting('app.scope', true) as scope, current_setting('app.tenant_id', true) as tenant, current_user as role`.execute(pool.db);
    return result.rows[0]!;
  }

  it('shows tenant B nothing of tenant A on the same connection', async () => {
    const a = await attendeeIds('northwind-live');
    expect(a).toEqual(await tenantAttendees('northwind-live'));
    const b = await attendeeIds('harbor-jazz');
    expect(b).toEqual(await tenantAttendees('harbor-jazz'));
    expect(b.filter((id) => a.includes(id))).toEqual([]);
  });

  it('leaves no tenant, scope or role on the connection after a request', async () => {
    await attendeeIds('northwind-live');
    const settings = await connectionSettings();
    expect(settings.scope ?? '').toBe('');
    expect(settings.tenant ?? '').toBe('');
    expect(settings.role).not.toBe(kind === 'pglite' ? 'custodian_app' : '');
    const leaked = await pool.db.transaction().execute(async (trx) => {
      await sql`select set_config('role', 'custodian_app', true)`.execute(trx);
      return (await sql`select tenant_id, id from attendees`.execute(trx)).rows;
    });
    expect(leaked).toEqual([]);
  });

  it('is not poisoned by a request that fails mid-transaction', async () => {
    // The tickets read fails after attendees and orders were read in the same transaction.
    await sql`revoke select on masked.tickets from custodian_app`.execute(database.owner.db);
    try {
      const failed = await gateway.request({ query: ATTENDEES_WITH_TICKETS, token: await tokenFor('northwind-live'), purpose: 'ticketing' });
      expect(failed.body.errors?.[0]?.message).toBe('Unexpected error.');
      expect(JSON.stringify(failed.body)).not.toMatch(/permission denied|custodian_app|relation/);
    } finally {
      await sql`grant select on masked.tickets to custodian_app`.execute(database.owner.db);
    }
    const settings = await connectionSettings();
    expect(settings.tenant ?? '').toBe('');
    expect(await attendeeIds('harbor-jazz')).toEqual(await tenantAttendees('harbor-jazz'));
  });
});
