import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TENANT_TABLES } from '../src/db/tables.js';
import { createTestDatabase, DATABASE_KINDS, rawAsApp, type TestDatabase } from './support/test-database.js';

const TENANTS = ['northwind-live', 'harbor-jazz', 'civic-theatre'];
/** What the application role reads tenant rows through: events directly, the rest through the masking views. */
const TENANT_RELATIONS = ['events', 'masked.attendees', 'masked.orders', 'masked.tickets', 'masked.relationships'];
const MASKED_VIEWS = ['people', 'attendees', 'orders', 'tickets', 'relationships', 'devices', 'usage_events', 'support_cases'].map((v) => `masked.${v}`);
/** A purpose that reads attendees, orders, tickets and relationships per person. */
const PURPOSE = 'audience-insights';

describe.each(DATABASE_KINDS)('tenant isolation under a query bug (%s)', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('has rows of every tenant, seen by the owner', async () => {
    for (const table of TENANT_TABLES) {
      const rows = await rawAsApp<{ tenant_id: string }>(database, `select distinct tenant_id from ${table}`, { scope: 'maintenance' })
        .catch(() => undefined);
      // The application role cannot use the owner's maintenance policy: it sees nothing.
      expect(rows ?? []).toEqual([]);
    }
    const owned = await database.owner.db.selectFrom('orders').select('tenant_id').distinct().execute();
    expect(owned.map((r) => r.tenant_id).sort()).toEqual([...TENANTS].sort());
  });

  it.each(TENANT_RELATIONS)('select * from %s with the tenant set returns only that tenant', async (table) => {
    for (const tenant of TENANTS) {
      const rows = await rawAsApp<{ tenant_id: string }>(database, `select * from ${table}`, { scope: 'tenant', tenant, purpose: PURPOSE });
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set([tenant]));
    }
  });

  it.each(['events', 'tenants', ...MASKED_VIEWS])('select * from %s with no tenant set returns nothing', async (table) => {
    expect(await rawAsApp(database, `select * from ${table}`, { purpose: PURPOSE })).toEqual([]);
    // A scope without a tenant is no better.
    expect(await rawAsApp(database, `select * from ${table}`, { scope: 'tenant', purpose: PURPOSE })).toEqual([]);
  });

  it('shows a tenant only the people it holds an attendee row for', async () => {
    const tenant = 'harbor-jazz';
    const people = await rawAsApp<{ id: string }>(database, 'select person_id as id from masked.people', { scope: 'tenant', tenant, purpose: PURPOSE });
    const expected = await database.owner.db
      .selectFrom('attendees')
      .select('person_id')
      .where('tenant_id', '=', tenant)
      .execute();
    expect(people.map((p) => p.id).sort()).toEqual(expected.map((a) => a.person_id).sort());
    const all = await database.owner.db.selectFrom('people').select('id').execute();
    expect(people.length).toBeLessThan(all.length);
  });

  it('refuses writes that would move a row to another tenant', async () => {
    await expect(
      rawAsApp(database, `insert into events (tenant_id, id, name, starts_at) values ('harbor-jazz', 'evil', 'x', now())`, {
        scope: 'tenant',
        tenant: 'northwind-live',
      }),
    ).rejects.toThrow();
  });

  it('keeps the tenant setting inside the transaction that set it', async () => {
    await rawAsApp(database, 'select 1', { scope: 'tenant', tenant: 'northwind-live' });
    const leaked = await rawAsApp<{ scope: string | null; tenant: string | null }>(
      database,
      `select current_setting('app.scope', true) as scope, current_setting('app.tenant_id', true) as tenant`,
    );
    expect(leaked[0]?.scope ?? '').toBe('');
    expect(leaked[0]?.tenant ?? '').toBe('');
  });
});
