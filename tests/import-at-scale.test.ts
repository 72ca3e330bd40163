import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LogEvent } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/config.js';
import { withScope } from '../src/db/request-scope.js';
import { IMPORT_BATCH } from '../src/db/queries/import-writes.js';
import { importData } from '../src/privacy/import/import-data.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';

// More people than PostgreSQL allows bind parameters in one statement (65,535): a lookup or an
// insert that grew with the file would fail here, as the issue saw.
const PEOPLE = 70_000;
const ORDERS = 2_000;
// Ceilings, not expectations: tens of thousands of rows on a loaded two-core machine.
const CEILING = 900_000;

function largeFile(prefix: string, PEOPLE_IN_FILE = PEOPLE) {
  const tenant = `${prefix}-tenant`;
  const event = `${prefix}-event`;
  const people = Array.from({ length: PEOPLE_IN_FILE }, (_, i) => ({
    id: `${prefix}-p${i}`,
    name: `Person ${i}`,
    email: `${prefix}.p${i}@example.org`,
    residency: 'EU-DE',
    consent: { marketing: i % 2 === 0, enrichment: true, doNotSell: false, restricted: false, objection: false },
    createdAt: '2025-01-01T12:00:00.000Z',
  }));
  const orders = Array.from({ length: ORDERS }, (_, i) => ({
    id: `${prefix}-o${i}`,
    tenant,
    event,
    person: `${prefix}-p${i}`,
    placedAt: '2026-03-01T12:00:00.000Z',
    totalCents: 1000,
    currency: 'EUR',
    status: 'paid',
    tickets: [{ id: `${prefix}-o${i}-t1`, type: 'general' }],
  }));
  return {
    tenants: [{ id: tenant, name: 'Scale Tenant' }],
    events: [{ id: event, tenant, name: 'Scale Night', startsAt: '2026-05-01T19:00:00.000Z' }],
    people,
    orders,
    relationships: [],
    usageEvents: [],
    supportCases: [],
  };
}

/** The number of $n placeholders a statement uses. */
const parametersOf = (sqlText: string) => new Set(sqlText.match(/\$\d+/g) ?? []).size;

describe.each(DATABASE_KINDS)('an import larger than one statement may carry (%s)', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind, { seed: false });
  }, CEILING);
  afterAll(async () => {
    await database?.destroy();
  });

  it(`imports ${PEOPLE.toLocaleString('en')} people in batches of constant statements, reporting progress`, async () => {
    const statements: LogEvent[] = [];
    const listener = (event: LogEvent) => statements.push(event);
    database.owner.queryListeners.add(listener);
    const progress: { table: string; done: number; total: number }[] = [];
    let report;
    try {
      report = await importData(database.owner.db, largeFile(`scale-${kind}`), {
        progress: (table, done, total) => progress.push({ table, done, total }),
      });
    } finally {
      database.owner.queryListeners.delete(listener);
    }
    expect(report).toMatchObject({ people: PEOPLE, consents: PEOPLE, attendees: ORDERS, orders: ORDERS, tickets: ORDERS });

    // No statement carries more than a handful of parameters, and the INSERT into people is the
    // same text for every batch, whatever the file's size.
    const maxParameters = Math.max(...statements.map((s) => parametersOf(s.query.sql)));
    expect(maxParameters).toBeLessThanOrEqual(4);
    const peopleInserts = statements.filter((s) => /^insert into "people"/.test(s.query.sql));
    expect(peopleInserts).toHaveLength(Math.ceil(PEOPLE / IMPORT_BATCH));
    expect(new Set(peopleInserts.map((s) => s.query.sql)).size).toBe(1);

    const people = progress.filter((p) => p.table === 'people');
    expect(people.map((p) => p.done)).toEqual(Array.from({ length: Math.ceil(PEOPLE / IMPORT_BATCH) }, (_, i) => Math.min((i + 1) * IMPORT_BATCH, PEOPLE)));
    expect(people.every((p) => p.total === PEOPLE)).toBe(true);

    const count = await withScope(database.owner.db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('people').select((eb) => eb.fn.countAll<string>().as('n')).where('id', 'like', `scale-${kind}-%`).executeTakeFirstOrThrow(),
    );
    expect(Number(count.n)).toBe(PEOPLE);
  }, CEILING);

  it('re-importing the same large file writes nothing', async () => {
    const report = await importData(database.owner.db, largeFile(`scale-${kind}`));
    expect(report.people).toBe(0);
    expect(report.orders).toBe(0);
  }, CEILING);
});

describe('npm run seed on a large file', () => {
  let work: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-scale-'));
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  // Enough rows for several batches; the 70,000-person case runs in-process above.
  const CLI_PEOPLE = 12_000;
  it('prints progress on stderr, the summary on stdout, and exits 0', async () => {
    const file = path.join(work, 'large.json');
    fs.writeFileSync(file, JSON.stringify(largeFile('cli', CLI_PEOPLE)));
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !['DATABASE_URL', 'MIGRATE_DATABASE_URL', 'TEST_DATABASE_URL', 'NODE_ENV'].includes(key)),
    );
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/cli/seed.ts', '--file', file],
        { cwd: projectRoot, env: { ...env, DATA_DIR: path.join(work, 'data') }, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : Number(error.code ?? -1), stdout, stderr }),
      );
    });
    expect(result.stderr).not.toContain('Unexpected failure');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('importing people: 5,000 of 12,000 rows');
    expect(result.stderr).toContain('importing people: 12,000 of 12,000 rows');
    expect(result.stdout).toContain(`people ${CLI_PEOPLE}`);
    // Progress names tables and counts, never a row.
    expect(result.stderr).not.toMatch(/@example\.org|Person \d/);
  }, CEILING);
});
