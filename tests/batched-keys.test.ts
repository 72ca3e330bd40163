import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsByKeys } from '../src/db/queries/events.js';
import { withScope } from '../src/db/request-scope.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';

/**
 * Batched loads send their keys as array parameters (src/db/queries/tenant-key.ts). Ids are only
 * unique within a tenant, so keys across tenants must match as pairs: tenant A with an id of
 * tenant B names nothing, even though both values occur in the batch.
 */
describe.each(DATABASE_KINDS)('batched keys match (tenant, id) pairs (%s)', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(() => database.destroy());

  const load = (scope: { kind: 'platform' } | { kind: 'tenant'; tenantId: string }, keys: { tenantId: string; id: string }[]) =>
    withScope(database.app.db, scope, async (trx) => (await eventsByKeys(trx, scope, keys)).map((row) => `${row.tenantId}:${row.id}`).sort());

  it('across tenants: only the pairs asked for, never the cross product', async () => {
    const found = await load({ kind: 'platform' }, [
      { tenantId: 'northwind-live', id: 'evt-nl-1' },
      { tenantId: 'harbor-jazz', id: 'evt-hj-1' },
      // Each value exists, in the other tenant: these two keys name nothing.
      { tenantId: 'northwind-live', id: 'evt-hj-2' },
      { tenantId: 'harbor-jazz', id: 'evt-nl-2' },
    ]);
    expect(found).toEqual(['harbor-jazz:evt-hj-1', 'northwind-live:evt-nl-1']);
  });

  it("within one tenant: another tenant's id is not found", async () => {
    const found = await load({ kind: 'tenant', tenantId: 'northwind-live' }, [
      { tenantId: 'northwind-live', id: 'evt-nl-1' },
      { tenantId: 'northwind-live', id: 'evt-nl-3' },
      { tenantId: 'northwind-live', id: 'evt-hj-1' },
    ]);
    expect(found).toEqual(['northwind-live:evt-nl-1', 'northwind-live:evt-nl-3']);
  });

  it('an empty batch reads nothing', async () => {
    expect(await load({ kind: 'platform' }, [])).toEqual([]);
  });
});
