import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { withScope } from '../src/db/request-scope.js';
import type { Database } from '../src/db/tables.js';
import type { ImportFile } from '../src/privacy/import/import-format.js';
import { importData, type ImportReport } from '../src/privacy/import/import-data.js';
import { ImportRefusedError } from '../src/privacy/import/validate-import.js';
import { createTestDatabase, DATABASE_KINDS, demoData, type TestDatabase } from './support/test-database.js';

type Row = Record<string, unknown>;
type LooseFile = Record<string, Row[]>;

const DEMO_FILE = path.join(projectRoot, 'fixtures', 'demo.json');
// A ceiling, not an expectation: each subprocess starts Node, tsx and (mostly) a database.
const SUBPROCESS_CEILING = 600_000;
const demo = (): ImportFile => demoData() as ImportFile;

/** Import report key → table it writes. */
const REPORT_TABLES: Record<string, string> = {
  tenants: 'tenants',
  events: 'events',
  people: 'people',
  consents: 'consents',
  enrichments: 'enrichments',
  devices: 'devices',
  attendees: 'attendees',
  orders: 'orders',
  tickets: 'tickets',
  relationships: 'relationships',
  usageEvents: 'usage_events',
  supportCases: 'support_cases',
};

/** What an import of `file` into an empty database must write, derived from the file itself. */
/** The per-table part of a report; `skippedErasedPeople` is checked on its own where it matters. */
function writtenCounts(report: ImportReport): Record<string, number> {
  const { skippedErasedPeople, ...tables } = report;
  expect(skippedErasedPeople).toBe(0);
  return tables;
}

function expectedCounts(file: ImportFile): Record<string, number> {
  const distinct = <T>(rows: T[], key: (row: T) => string) => new Set(rows.map(key)).size;
  const pairs = new Set<string>();
  file.orders.forEach((o) => pairs.add(`${o.tenant}\u0000${o.person}`));
  file.relationships.forEach((r) => {
    pairs.add(`${r.tenant}\u0000${r.from}`);
    pairs.add(`${r.tenant}\u0000${r.to}`);
  });
  return {
    tenants: file.tenants.length,
    events: file.events.length,
    people: file.people.length,
    consents: file.people.length,
    enrichments: file.people.filter((p) => p.enrichment !== undefined).length,
    devices: file.people.filter((p) => p.device !== undefined).length,
    attendees: pairs.size,
    orders: file.orders.length,
    tickets: file.orders.reduce((sum, o) => sum + o.tickets.length, 0),
    relationships: distinct(file.relationships, (r) => JSON.stringify([r.tenant, r.from, r.to, r.kind])),
    usageEvents: distinct(file.usageEvents, (u) => JSON.stringify([u.person, u.at, u.page, u.feature])),
    supportCases: file.supportCases.length,
  };
}

// The maintenance scope keeps these reads working even where the owner is not a superuser (FORCE RLS).
async function tableCounts(db: Kysely<Database>): Promise<Record<string, number>> {
  return withScope(db, { kind: 'maintenance' }, async (trx) => {
    const counts: Record<string, number> = {};
    for (const [key, table] of Object.entries(REPORT_TABLES)) {
      const result = await sql.raw<{ n: number }>(`select count(*)::int as n from ${table}`).execute(trx);
      counts[key] = Number(result.rows[0]?.n);
    }
    return counts;
  });
}

/**
 * Every table of the schema, every row, in a total order: two equal snapshots mean nothing at all
 * was written in between (not even a row deleted and re-created with a new id).
 */
async function snapshot(db: Kysely<Database>): Promise<string> {
  return withScope(db, { kind: 'maintenance' }, async (trx) => {
    const tables = await sql<{ name: string; columns: number }>`
      select c.relname as name, count(a.attnum)::int as columns
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
      join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      where n.nspname = 'public' and c.relkind in ('r', 'p')
      group by c.relname
      order by c.relname`.execute(trx);
    const parts: string[] = [];
    for (const { name, columns } of tables.rows) {
      const order = Array.from({ length: columns }, (_, i) => String(i + 1)).join(', ');
      const rows = await sql.raw<Row>(`select * from "${name}" order by ${order}`).execute(trx);
      parts.push(`${name}: ${JSON.stringify(rows.rows, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value))}`);
    }
    expect(parts.length).toBeGreaterThanOrEqual(Object.keys(REPORT_TABLES).length);
    return parts.join('\n');
  });
}

async function refusal(promise: Promise<unknown>): Promise<ImportRefusedError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ImportRefusedError);
  return error as ImportRefusedError;
}

/** Personal values of every person in a file: none may ever appear in an error message. */
function personalValues(file: LooseFile): string[] {
  return (file.people ?? []).flatMap((p) => [p.name, p.email, p.phone]).filter((v): v is string => typeof v === 'string');
}

function expectNoPersonalValues(message: string, file: LooseFile): void {
  for (const value of personalValues(file)) expect(message).not.toContain(value);
}

// A small file of its own tenants, so it never collides with the demo data.
function person(id: string, name: string): Row {
  return {
    id,
    name,
    email: `${id}@example.org`,
    phone: '+15550001111',
    ageRange: '25-34',
    residency: 'US-CA',
    consent: { marketing: true, enrichment: false, doNotSell: false, restricted: false, objection: false },
    createdAt: '2025-01-01T12:00:00.000Z',
  };
}

function order(id: string, tenant: string, event: string, personId: string): Row {
  return {
    id,
    tenant,
    event,
    person: personId,
    placedAt: '2026-03-01T12:00:00.000Z',
    totalCents: 4200,
    currency: 'EUR',
    status: 'paid',
    tickets: [{ id: `${id}-t1`, type: 'general' }],
  };
}

function smallFile(): LooseFile {
  return {
    tenants: [
      { id: 'imp-north', name: 'Import North' },
      { id: 'imp-south', name: 'Import South' },
    ],
    events: [
      { id: 'imp-e-north', tenant: 'imp-north', name: 'North Night', startsAt: '2026-05-01T19:00:00.000Z' },
      { id: 'imp-e-south', tenant: 'imp-south', name: 'South Night', venue: 'Pier 3', startsAt: '2026-05-02T19:00:00.000Z' },
    ],
    people: [person('imp-p-1', 'Ottilie Brandvold'), person('imp-p-2', 'Casimir Wendlebury')],
    orders: [order('imp-o-1', 'imp-north', 'imp-e-north', 'imp-p-1'), order('imp-o-2', 'imp-south', 'imp-e-south', 'imp-p-2')],
    relationships: [{ tenant: 'imp-north', from: 'imp-p-1', to: 'imp-p-2', kind: 'attended-with' }],
    usageEvents: [{ person: 'imp-p-1', at: '2026-03-01T12:00:00.000Z', page: '/checkout', feature: 'purchase' }],
    supportCases: [
      { id: 'imp-case-1', person: 'imp-p-2', openedAt: '2026-03-02T12:00:00.000Z', subject: 'Refund', body: 'Please refund.' },
    ],
  };
}

type Phase = 'shape' | 'cross-row' | 'database';

interface BadRow {
  what: string;
  phase: Phase;
  section: 'people' | 'orders' | 'relationships';
  row: Row;
  /** Fragments the message must hold for this row, given its index in its section. */
  named: (index: number) => string[];
}

const withoutKey = (row: Row, key: string): Row => Object.fromEntries(Object.entries(row).filter(([k]) => k !== key));

const BAD_ROWS: BadRow[] = [
  {
    what: 'invalid email',
    phase: 'shape',
    section: 'people',
    row: { ...person('imp-p-bad-email', 'Zebediah Quillfeather'), email: 'zebediah.private@@example.org' },
    named: (i) => [`people[${i}] (id "imp-p-bad-email"), field email`],
  },
  {
    what: 'missing required field',
    phase: 'shape',
    section: 'people',
    row: withoutKey(person('imp-p-no-residency', 'Philippa Harcourt-Vane'), 'residency'),
    named: (i) => [`people[${i}] (id "imp-p-no-residency"), field residency`],
  },
  {
    what: 'unknown extra field',
    phase: 'shape',
    section: 'people',
    row: { ...person('imp-p-extra', 'Leopold Ashgrove'), favouriteColour: 'teal' },
    named: (i) => [`people[${i}] (id "imp-p-extra")`, 'favouriteColour'],
  },
  {
    what: 'duplicate id',
    phase: 'cross-row',
    section: 'people',
    row: person('imp-p-1', 'Ottilie Brandvold'),
    named: (i) => [`people[${i}] (id "imp-p-1"), field id`],
  },
  {
    what: 'bad currency',
    phase: 'shape',
    section: 'orders',
    row: { ...order('imp-o-currency', 'imp-north', 'imp-e-north', 'imp-p-1'), currency: 'usd' },
    named: (i) => [`orders[${i}] (id "imp-o-currency"), field currency`],
  },
  {
    what: 'negative totalCents',
    phase: 'shape',
    section: 'orders',
    row: { ...order('imp-o-negative', 'imp-north', 'imp-e-north', 'imp-p-1'), totalCents: -100 },
    named: (i) => [`orders[${i}] (id "imp-o-negative"), field totalCents`],
  },
  {
    what: 'bad timestamp',
    phase: 'shape',
    section: 'orders',
    row: { ...order('imp-o-timestamp', 'imp-north', 'imp-e-north', 'imp-p-1'), placedAt: 'last Tuesday' },
    named: (i) => [`orders[${i}] (id "imp-o-timestamp"), field placedAt`],
  },
  {
    what: 'event of another tenant',
    phase: 'cross-row',
    section: 'orders',
    row: order('imp-o-cross-tenant', 'imp-north', 'imp-e-south', 'imp-p-1'),
    named: (i) => [`orders[${i}] (id "imp-o-cross-tenant"), field event`],
  },
  {
    what: 'order naming an unknown person',
    phase: 'database',
    section: 'orders',
    row: order('imp-o-unknown-person', 'imp-north', 'imp-e-north', 'imp-nobody'),
    named: (i) => [`orders[${i}] (id "imp-o-unknown-person"), field person`],
  },
  {
    what: 'relationship to an unknown person',
    phase: 'database',
    section: 'relationships',
    row: { tenant: 'imp-north', from: 'imp-p-1', to: 'imp-ghost', kind: 'attended-with' },
    named: (i) => [`relationships[${i}], field to`],
  },
];

/** The small file with these bad rows appended after its good ones, and what each must be named as. */
function fileWithBadRows(bad: readonly BadRow[]): { input: LooseFile; expected: { what: string; fragments: string[] }[] } {
  const input = smallFile();
  const expected = bad.map((b) => {
    const rows = input[b.section]!;
    rows.push(b.row);
    return { what: b.what, fragments: b.named(rows.length - 1) };
  });
  return { input, expected };
}

describe.each(DATABASE_KINDS)('import (%s)', (kind) => {
  let database: TestDatabase;
  let db: Kysely<Database>;
  beforeAll(async () => {
    database = await createTestDatabase(kind, { seed: false });
    db = database.owner.db;
  });
  afterAll(async () => {
    await database?.destroy();
  });

  // The tests below build on the demo data this first test loads.
  it('imports the demo file: every row of every table', async () => {
    const file = demo();
    expect(await tableCounts(db)).toEqual(Object.fromEntries(Object.keys(REPORT_TABLES).map((k) => [k, 0])));
    const report = writtenCounts(await importData(db, file));
    const expected = expectedCounts(file);
    expect(report).toEqual(expected);
    expect(await tableCounts(db)).toEqual(expected);
    // The file itself, so a changed fixture is noticed rather than silently re-counted.
    expect(expected).toMatchObject({
      tenants: 3,
      events: 9,
      people: 60,
      orders: 86,
      tickets: 174,
      relationships: 25,
      usageEvents: 180,
      supportCases: 10,
      attendees: 81,
    });
  });

  it('re-importing the same file writes nothing and keeps every row (attendee ids included)', async () => {
    const before = await snapshot(db);
    const attendeesBefore = await withScope(db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('attendees').select(['tenant_id', 'person_id', 'id']).orderBy('tenant_id').orderBy('person_id').execute(),
    );
    const report = writtenCounts(await importData(db, demo()));
    expect(Object.keys(report).sort()).toEqual(Object.keys(REPORT_TABLES).sort());
    expect(Object.values(report).every((count) => count === 0)).toBe(true);
    expect(await snapshot(db)).toBe(before);
    const attendeesAfter = await withScope(db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('attendees').select(['tenant_id', 'person_id', 'id']).orderBy('tenant_id').orderBy('person_id').execute(),
    );
    expect(attendeesAfter).toEqual(attendeesBefore);
  });

  it('refuses a file with many kinds of bad rows, names every one by row and field, and writes nothing', async () => {
    const { input, expected } = fileWithBadRows(BAD_ROWS);
    const before = await snapshot(db);
    const error = await refusal(importData(db, input));
    const missed = expected.filter((e) => !e.fragments.every((f) => error.message.includes(f))).map((e) => e.what);
    expect(missed, error.message).toEqual([]);
    // The good rows that precede the bad ones are not blamed.
    expect(error.message).not.toContain('people[0]');
    expect(error.message).not.toContain('orders[0]');
    expect(error.message).not.toContain('relationships[0]');
    expectNoPersonalValues(error.message, input);
    expect(error.message).not.toContain('zebediah.private@@example.org');
    expect(await snapshot(db)).toBe(before);
  });

  // Each phase of checking on its own: narrower than the test above, so a failure there says which phase misses rows.
  it.each<Phase>(['shape', 'cross-row', 'database'])('names every bad row found by the %s checks', async (phase) => {
    const { input, expected } = fileWithBadRows(BAD_ROWS.filter((b) => b.phase === phase));
    expect(expected.length).toBeGreaterThanOrEqual(2);
    const before = await snapshot(db);
    const error = await refusal(importData(db, input));
    const missed = expected.filter((e) => !e.fragments.every((f) => error.message.includes(f))).map((e) => e.what);
    expect(missed, error.message).toEqual([]);
    expect(error.problems.length).toBeGreaterThanOrEqual(expected.length);
    expect(error.message).toContain('nothing was written');
    expectNoPersonalValues(error.message, input);
    expect(await snapshot(db)).toBe(before);
  });

  it('writes nothing when a reference only the database could satisfy fails, after good rows of other tables', async () => {
    const input = smallFile();
    // Everything before it is new and valid: tenants, events, people, orders, relationships, usage.
    input.supportCases!.push({
      id: 'imp-case-orphan',
      person: 'imp-nobody',
      openedAt: '2026-03-03T12:00:00.000Z',
      subject: 'Where is my ticket',
      body: 'Hello',
    });
    const before = await snapshot(db);
    const error = await refusal(importData(db, input));
    expect(error.message).toContain('supportCases[1] (id "imp-case-orphan"), field person');
    expect(error.problems).toHaveLength(1);
    expect(await snapshot(db)).toBe(before);
  });

  it('writes nothing when the database itself refuses the last row, after every other table was written', async () => {
    // A trigger stands in for any failure the checks cannot foresee (a constraint, a lost connection):
    // support cases are written last, so everything else of the file is in the transaction by then.
    await sql`create function imp_refuse_case() returns trigger language plpgsql as $$
      begin
        if new.id = 'imp-case-refused' then raise exception 'refused by the database'; end if;
        return new;
      end $$`.execute(db);
    await sql`create trigger imp_refuse_case before insert on support_cases for each row execute function imp_refuse_case()`.execute(db);
    try {
      const input = smallFile();
      input.supportCases!.push({ id: 'imp-case-refused', person: 'imp-p-1', openedAt: '2026-03-03T12:00:00.000Z', subject: 'Late', body: 'Hello' });
      const before = await snapshot(db);
      await expect(importData(db, input)).rejects.toThrow(/refused by the database/);
      expect(await snapshot(db)).toBe(before);
    } finally {
      await sql`drop trigger imp_refuse_case on support_cases`.execute(db);
      await sql`drop function imp_refuse_case()`.execute(db);
    }
  });

  it('writes nothing when a timestamp passes the format but not the database (year 0)', async () => {
    const input = smallFile();
    input.supportCases!.push({ id: 'imp-case-year-zero', person: 'imp-p-1', openedAt: '0000-01-01T00:00:00Z', subject: 'Ancient', body: 'Hello' });
    const before = await snapshot(db);
    await expect(importData(db, input)).rejects.toThrow();
    expect(await snapshot(db)).toBe(before);
  });

  it('refuses a timestamp the database cannot store as a bad row, naming row and field', async () => {
    const input = smallFile();
    input.supportCases!.push({
      id: 'imp-case-year-zero',
      person: 'imp-p-1',
      openedAt: '0000-01-01T00:00:00Z',
      subject: 'Ancient',
      body: 'Hello',
    });
    const error = await refusal(importData(db, input));
    expect(error.message).toContain('supportCases[1] (id "imp-case-year-zero"), field openedAt');
  });

  it('refuses a person under 13 with a clear message, and writes nothing of the file', async () => {
    const input = smallFile();
    input.people!.push({ ...person('imp-p-child', 'Tobias Fenwick-Lowe'), ageRange: 'under-13' });
    const before = await snapshot(db);
    const error = await refusal(importData(db, input));
    expect(error.message).toContain('people[2] (id "imp-p-child"), field ageRange');
    expect(error.message).toMatch(/under 13/i);
    expect(error.problems).toHaveLength(1);
    expectNoPersonalValues(error.message, input);
    expect(await snapshot(db)).toBe(before);
  });

  it('the database itself refuses an under-13 age range written directly by the owner', async () => {
    const before = await snapshot(db);
    await expect(
      withScope(db, { kind: 'maintenance' }, (trx) =>
        trx
          .insertInto('people')
          .values({ id: 'imp-direct-child', name: 'Direct', email: 'direct@example.org', age_range: 'under-13', residency: 'US-CA', created_at: '2025-01-01T00:00:00Z' })
          .execute(),
      ),
    ).rejects.toThrow(/check constraint/i);
    expect(await snapshot(db)).toBe(before);
  });

  it('never quotes personal values from the file in its messages', async () => {
    const input = smallFile();
    input.people!.push(
      { ...person('imp-p-pii-1', 'Wilhelmina Stroudwater'), email: 'wilhelmina.stroudwater@', phone: 'call 555 0199 evenings' },
      {
        ...person('imp-p-pii-2', 'Bartholomew Kettleridge'),
        billingAddress: { line1: '17 Kettleridge Lane', city: 'Bramfield', country: 'United Kingdom' },
        device: { ip: '10.20.30.400', userAgent: 'Bartholomew-Phone' },
      },
      { ...person('imp-p-pii-3', 'Rosalind Quarterman'), ageRange: 'under-13' },
      { ...person('imp-p-pii-4', 'x'.repeat(301)) },
    );
    const error = await refusal(importData(db, input));
    for (const field of ['people[2] (id "imp-p-pii-1"), field email', 'people[2] (id "imp-p-pii-1"), field phone']) {
      expect(error.message).toContain(field);
    }
    expect(error.message).toContain('people[3] (id "imp-p-pii-2"), field billingAddress.country');
    expect(error.message).toContain('people[3] (id "imp-p-pii-2"), field device.ip');
    expect(error.message).toContain('people[4] (id "imp-p-pii-3"), field ageRange');
    expect(error.message).toContain('people[5] (id "imp-p-pii-4"), field name');
    expectNoPersonalValues(error.message, input);
    for (const value of ['United Kingdom', '17 Kettleridge Lane', 'Bramfield', '10.20.30.400', 'Bartholomew', 'xxxxxxxxxx']) {
      expect(error.message).not.toContain(value);
    }
    // The structured problems a caller might log are as clean as the message.
    expectNoPersonalValues(JSON.stringify(error.problems), input);
  });

  it('the same file without its bad rows imports, all of it', async () => {
    const input = smallFile();
    const before = await tableCounts(db);
    const report = writtenCounts(await importData(db, input));
    expect(report).toEqual(expectedCounts(input as unknown as ImportFile));
    const after = await tableCounts(db);
    for (const [key, count] of Object.entries(report)) expect(after[key]).toBe(before[key]! + count);
  });

  it('imports a file that refers to rows already in the database, adding only its new rows', async () => {
    const file = demo();
    const existing = file.orders[0]!;
    const before = await tableCounts(db);
    const attendee = await withScope(db, { kind: 'maintenance' }, (trx) =>
      trx
        .selectFrom('attendees')
        .select('id')
        .where('tenant_id', '=', existing.tenant)
        .where('person_id', '=', existing.person)
        .executeTakeFirstOrThrow(),
    );
    const input = {
      orders: [
        {
          ...order('imp-o-later', existing.tenant, existing.event, existing.person),
          tickets: [
            { id: 'imp-o-later-t1', type: 'general' },
            { id: 'imp-o-later-t2', type: 'vip', checkedInAt: '2026-11-08T19:05:00.000Z' },
          ],
        },
      ],
    };
    const report = await importData(db, input);
    expect(writtenCounts(report)).toEqual({ ...Object.fromEntries(Object.keys(REPORT_TABLES).map((k) => [k, 0])), orders: 1, tickets: 2 });
    expect(await tableCounts(db)).toEqual({ ...before, orders: before.orders! + 1, tickets: before.tickets! + 2 });
    const written = await withScope(db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('orders').selectAll().where('tenant_id', '=', existing.tenant).where('id', '=', 'imp-o-later').executeTakeFirstOrThrow(),
    );
    // The existing attendee is reused: the tenant already knows this person.
    expect(written).toMatchObject({ event_id: existing.event, attendee_id: attendee.id, total_cents: 4200, currency: 'EUR' });
  });
});

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const DATABASE_ENV = ['DATABASE_URL', 'MIGRATE_DATABASE_URL', 'TEST_DATABASE_URL', 'APP_DB_PASSWORD', 'DATA_DIR'];

function runSeed(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  // The caller's database settings must never leak into the child: it would import into them.
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !DATABASE_ENV.includes(key)));
  return new Promise((resolve) => {
    // node --import tsx, not npx: no npm start-up on top of the command; no timeout of its own
    // (a loaded machine may be many times slower), the test's ceiling applies.
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/seed.ts', ...args],
      { cwd: projectRoot, env: { ...base, NODE_ENV: 'development', ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        // npx's own configuration warnings depend on the machine, not on the command under test.
        const own = stderr
          .split('\n')
          .filter((line) => !line.startsWith('npm warn'))
          .join('\n');
        resolve({ code, stdout, stderr: own });
      },
    );
  });
}

async function countsInDataDir(dataDir: string): Promise<{ counts: Record<string, number>; tenants: string[] }> {
  const handle = await openDatabase({ dataDir });
  try {
    const counts = await tableCounts(handle.db);
    const tenants = await withScope(handle.db, { kind: 'maintenance' }, (trx) => trx.selectFrom('tenants').select('id').orderBy('id').execute());
    return { counts, tenants: tenants.map((t) => t.id) };
  } finally {
    await handle.close();
  }
}

describe('npm run seed -- --file (subprocess)', () => {
  let work: string;
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-import-'));
  });
  afterAll(() => {
    fs.rmSync(work, { recursive: true, force: true });
  });

  describe('on the embedded database', () => {
    let dataDir: string;
    beforeAll(() => {
      dataDir = fs.mkdtempSync(path.join(work, 'data-'));
    });

    it('imports a good file, exits 0 and prints the report', async () => {
      const result = await runSeed(['--file', DEMO_FILE], { DATA_DIR: dataDir });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const counts = expectedCounts(demo());
      for (const [key, count] of Object.entries(counts)) expect(result.stdout).toContain(`${key} ${count}`);
    }, SUBPROCESS_CEILING);

    it('refuses a bad file: exits 1, names row and field on stderr, writes nothing', async () => {
      const bad: LooseFile = {
        tenants: [{ id: 'cli-tenant', name: 'CLI Tenant' }],
        events: [{ id: 'cli-event', tenant: 'cli-tenant', name: 'CLI Night', startsAt: '2026-05-01T19:00:00.000Z' }],
        people: [person('cli-good', 'Aurelio Penhallow'), { ...person('cli-bad', 'Zebediah Quillfeather'), email: 'zebediah.private@@example.org' }],
        orders: [{ ...order('cli-order', 'cli-tenant', 'cli-event', 'cli-good'), currency: 'usd' }],
      };
      const file = path.join(work, 'bad.json');
      fs.writeFileSync(file, JSON.stringify(bad));
      const result = await runSeed(['--file', file], { DATA_DIR: dataDir });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('nothing was written');
      expect(result.stderr).toContain('people[1] (id "cli-bad"), field email');
      expect(result.stderr).toContain('orders[0] (id "cli-order"), field currency');
      expect(result.stderr).not.toContain('Unexpected failure');
      expectNoPersonalValues(result.stderr, bad);
      // Still exactly the good file's data: the bad file's valid tenant, event and person are absent.
      const after = await countsInDataDir(dataDir);
      expect(after.counts).toEqual(expectedCounts(demo()));
      expect(after.tenants).not.toContain('cli-tenant');
    }, SUBPROCESS_CEILING);
  });

  // These fail before any database is opened, so they can share nothing and run side by side.
  describe.concurrent('refuses bad invocations with exit 1 and a clear message', () => {
    it('without --file', async () => {
      const result = await runSeed([], { DATA_DIR: path.join(work, 'unused-1') });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('Usage: npm run seed -- --file PATH');
      expect(result.stderr).not.toContain('Unexpected failure');
    }, SUBPROCESS_CEILING);

    it('with a file that does not exist', async () => {
      const missing = path.join(work, 'no-such-file.json');
      const result = await runSeed(['--file', missing], { DATA_DIR: path.join(work, 'unused-2') });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`Cannot read the import file ${missing}`);
      expect(result.stderr).not.toContain('Unexpected failure');
    }, SUBPROCESS_CEILING);

    it('with a file that is not JSON, without quoting its contents', async () => {
      const file = path.join(work, 'people.csv');
      fs.writeFileSync(file, 'Marguerite Oakenshaw,marguerite@example.org,+15550002222\n');
      const result = await runSeed(['--file', file], { DATA_DIR: path.join(work, 'unused-3') });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`The import file ${file} is not valid JSON`);
      expect(result.stderr).not.toContain('Unexpected failure');
      // A non-JSON file is often an export of people: its first bytes are personal data.
      expect(result.stderr).not.toMatch(/Marguerite|Oakenshaw|marguerite@/);
    }, SUBPROCESS_CEILING);
  });

  describe.skipIf(!process.env.TEST_DATABASE_URL)('on PostgreSQL', () => {
    let database: TestDatabase;
    beforeAll(async () => {
      database = await createTestDatabase('postgres', { seed: false });
    });
    afterAll(async () => {
      await database?.destroy();
    });

    it('imports a good file as the owner and exits 0', async () => {
      const result = await runSeed(['--file', DEMO_FILE], {
        DATABASE_URL: database.appUrl!,
        MIGRATE_DATABASE_URL: database.ownerUrl!,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('orders 86');
      expect(await tableCounts(database.owner.db)).toEqual(expectedCounts(demo()));
    }, SUBPROCESS_CEILING);
  });
});
