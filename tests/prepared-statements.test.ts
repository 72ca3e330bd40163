import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { PreparingClient } from '../src/db/prepared-statements.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';

const prepared = async (client: pg.Client) =>
  (await client.query<{ statement: string }>('select statement from pg_prepared_statements order by statement')).rows.map((row) => row.statement);

// Prepared statements are a PostgreSQL connection's; the embedded database has no pool to prepare on.
describe.skipIf(process.env.TEST_DATABASE_URL === undefined)('statements prepared once per connection (postgres)', () => {
  let database: TestDatabase;
  let client: PreparingClient;
  beforeAll(async () => {
    database = await createTestDatabase('postgres', { seed: false });
    client = new PreparingClient({ connectionString: database.ownerUrl });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
    await database.destroy();
  });

  it('prepares a statement with parameters once, and reuses it', async () => {
    const text = 'select $1::int + 1 as next';
    expect((await client.query(text, [1])).rows).toEqual([{ next: 2 }]);
    expect((await client.query(text, [41])).rows).toEqual([{ next: 42 }]);
    expect(await prepared(client)).toEqual([text]);
  });

  it('gives each text its own statement, so one name never stands for two texts', async () => {
    await client.query('select $1::int * 2 as twice', [3]);
    expect((await client.query('select $1::int * 3 as thrice', [3])).rows).toEqual([{ thrice: 9 }]);
    expect(await prepared(client)).toEqual(['select $1::int * 2 as twice', 'select $1::int * 3 as thrice', 'select $1::int + 1 as next']);
  });

  it('leaves transaction control and statements without parameters unprepared', async () => {
    const before = await prepared(client);
    await client.query('begin');
    await client.query('select 1 as one', []);
    await client.query('commit');
    expect(await prepared(client)).toEqual(before);
  });

  it('keeps a bounded number per connection, then runs statements unnamed', async () => {
    for (let i = 0; i < 300; i++) expect((await client.query(`select $1::int + ${i} as n`, [0])).rows).toEqual([{ n: i }]);
    expect((await prepared(client)).length).toBe(256);
  });
});

describe('DATABASE_PREPARED_STATEMENTS', () => {
  it('is on by default and can be turned off', () => {
    expect(loadConfig({}).databaseLimits.preparedStatements).toBe(true);
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'off' }).databaseLimits.preparedStatements).toBe(false);
  });

  it('refuses anything but on or off', () => {
    expect(() => loadConfig({ DATABASE_PREPARED_STATEMENTS: 'sometimes' })).toThrow(/DATABASE_PREPARED_STATEMENTS must be on or off/);
  });
});
