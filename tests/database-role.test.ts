import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertSafeApplicationRole, inspectConnectedRole } from '../src/db/role-check.js';
import { UnsafeDatabaseRoleError } from '../src/errors.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { gatewayFixture } from './support/test-gateway.js';

describe.each(DATABASE_KINDS)('database roles (%s)', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind, { seed: false });
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('refuses to serve as the owner (a superuser here)', async () => {
    const facts = await inspectConnectedRole(database.owner.db);
    expect(facts.superuser).toBe(true);
    expect(() => assertSafeApplicationRole(facts)).toThrow(UnsafeDatabaseRoleError);
  });

  it.runIf(kind === 'postgres')('accepts custodian_app, which owns nothing and cannot bypass RLS', async () => {
    const facts = await inspectConnectedRole(database.app.db);
    expect(facts).toEqual({ role: 'custodian_app', superuser: false, bypassRls: false, ownsTables: [] });
    expect(() => assertSafeApplicationRole(facts)).not.toThrow();
  });

  it.runIf(kind === 'postgres')('refuses a role that owns a table or has BYPASSRLS', () => {
    expect(() => assertSafeApplicationRole({ role: 'x', superuser: false, bypassRls: true, ownsTables: [] })).toThrow(/has BYPASSRLS/);
    expect(() => assertSafeApplicationRole({ role: 'x', superuser: false, bypassRls: false, ownsTables: ['people'] })).toThrow(/owns/);
  });

  const asApp = <T>(purpose: string, statement: string) =>
    database.app.db.transaction().execute(async (trx) => {
      await sql`select set_config('role', 'custodian_app', true), set_config('app.scope', 'platform', true),
        set_config('app.purpose', ${purpose}, true)`.execute(trx);
      return sql.raw<T>(statement).execute(trx);
    });

  it('refuses the application role writes it was never granted', async () => {
    await expect(asApp('legal-compliance', `delete from events`)).rejects.toThrow(/permission denied/);
    await expect(asApp('legal-compliance', `update people set created_at = now()`)).rejects.toThrow(/permission denied/);
    await expect(asApp('legal-compliance', `update orders set total_cents = 0`)).rejects.toThrow(/permission denied/);
    await expect(asApp('legal-compliance', `delete from access_log`)).rejects.toThrow(/permission denied/);
  });

  it('lets the granted writes through only for a data-subject purpose', async () => {
    await database.owner.db.insertInto('tenants').values({ id: 'role-test', name: 'x' }).onConflict((oc) => oc.doNothing()).execute();
    await database.owner.db
      .insertInto('people')
      .values({ id: 'role-test-person', name: 'Before', residency: 'GB', created_at: new Date() })
      .onConflict((oc) => oc.doNothing())
      .execute();
    // RLS hides every row from an update under any other purpose: nothing changes, silently.
    const refused = await asApp('customer-support', `update people set name = 'After' where id = 'role-test-person'`);
    expect(Number(refused.numAffectedRows ?? 0n)).toBe(0);
    const unchanged = await database.owner.db.selectFrom('people').select('name').where('id', '=', 'role-test-person').executeTakeFirstOrThrow();
    expect(unchanged.name).toBe('Before');
    const allowed = await asApp('legal-compliance', `update people set name = 'After' where id = 'role-test-person'`);
    expect(Number(allowed.numAffectedRows ?? 0n)).toBe(1);
  });
});

describe.runIf(DATABASE_KINDS.includes('postgres'))('the database going away mid-request (postgres)', () => {
  const fixture = gatewayFixture('postgres');

  const QUERY = '{ attendees(first: 100) { edges { node { id name email orders { id tickets { id } } } } } }';

  it('answers 503 SERVICE_UNAVAILABLE with no data, then recovers', async () => {
    const token = await fixture.keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
    // Hold a lock on tickets so the request stops mid-transaction, then cut its connection.
    const blocker = await fixture.database.owner.db.startTransaction().execute();
    await sql`lock table tickets in access exclusive mode`.execute(blocker);
    const pending = fixture.gateway.request({ query: QUERY, token, purpose: 'ticketing' });
    const deadline = Date.now() + 10_000;
    let terminated = 0;
    while (terminated === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const result = await sql<{ n: number }>`
        select count(pg_terminate_backend(pid))::int as n from pg_stat_activity
        where usename = 'custodian_app' and datname = current_database() and wait_event_type = 'Lock'`.execute(fixture.database.owner.db);
      terminated = result.rows[0]!.n;
    }
    expect(terminated).toBe(1);
    const response = await pending;
    await blocker.rollback().execute();
    expect(response.body.data ?? null).toBeNull();
    // The database went away: the caller is told to come back (issue 9), never handed a 200.
    expect(response.status).toBe(503);
    expect(response.body.errors?.map((error) => error.extensions?.code)).toEqual(['SERVICE_UNAVAILABLE']);
    expect(JSON.stringify(response.body)).not.toMatch(/terminat|admin|@example|pg_|custodian_app/i);

    const again = await fixture.gateway.request<{ attendees: { edges: unknown[] } }>({ query: QUERY, token, purpose: 'ticketing' });
    expect(again.body.errors).toBeUndefined();
    expect(again.body.data!.attendees.edges).toHaveLength(24);
  });
});
