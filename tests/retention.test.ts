import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAccessLog } from '../src/audit/verify-from-cut.js';
import { readCheckpoint } from '../src/audit/checkpoint.js';
import { chainHash, contentHash } from '../src/audit/entry-hash.js';
import { chainHeads } from '../src/db/queries/access-log.js';
import { latestCut } from '../src/db/queries/retention.js';
import { loadConfig, projectRoot, type Config } from '../src/config.js';
import { beginScopedTransaction, commitOrRelease, withScope } from '../src/db/request-scope.js';
import type { Database } from '../src/db/tables.js';
import { liftLegalHold, placeLegalHold } from '../src/privacy/legal-holds.js';
import { cutoffOf, RETENTION_PERIODS, runRetention } from '../src/privacy/retention.js';
import { createTestDatabase, DATABASE_KINDS, demoData, type TestDatabase } from './support/test-database.js';
import { startTestGateway, type TestGateway } from './support/test-gateway.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

interface Fixture {
  people: { id: string; createdAt: string; lastActiveAt?: string }[];
  orders: { id: string; tenant: string; person: string; placedAt: string; tickets: { id: string }[] }[];
  usageEvents: { person: string; at: string; page: string; feature: string }[];
  supportCases: { id: string; person: string; resolvedAt?: string }[];
}

const OFFICER = { subject: 'officer-retention-test', role: 'privacy_officer' };

function testConfig(): Config {
  // Development checkpoint keys under a scratch DATA_DIR: what `npm run retention` signs with.
  return loadConfig({ DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-retention-')) });
}

/** As a privacy officer's request would: custodian_app, platform scope, legal-compliance. */
async function asOfficer<T>(db: Kysely<Database>, work: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
  const trx = await beginScopedTransaction(db, { kind: 'platform' }, 'legal-compliance');
  try {
    const result = await work(trx);
    await commitOrRelease(trx);
    return result;
  } catch (error) {
    await trx.rollback().execute().catch(() => undefined);
    throw error;
  }
}

const owner = <T>(database: TestDatabase, work: (trx: Kysely<Database>) => Promise<T>) => withScope(database.owner.db, { kind: 'maintenance' }, work);

/** Every row that could hold a person, as the owner sees it. */
async function snapshot(database: TestDatabase) {
  return owner(database, async (trx) => ({
    people: (await trx.selectFrom('people').select('id').orderBy('id').execute()).map((r) => r.id),
    consents: (await trx.selectFrom('consents').select('person_id').orderBy('person_id').execute()).map((r) => r.person_id),
    enrichments: (await trx.selectFrom('enrichments').select('person_id').orderBy('person_id').execute()).map((r) => r.person_id),
    devices: (await trx.selectFrom('devices').select('person_id').orderBy('person_id').execute()).map((r) => r.person_id),
    attendees: (await trx.selectFrom('attendees').select(['tenant_id', 'id', 'person_id']).orderBy('tenant_id').orderBy('id').execute()).map(
      (r) => `${r.tenant_id}/${r.id}/${r.person_id}`,
    ),
    orders: (await trx.selectFrom('orders').select('id').orderBy('id').execute()).map((r) => r.id),
    tickets: (await trx.selectFrom('tickets').select('id').orderBy('id').execute()).map((r) => r.id),
    relationships: Number((await sql<{ n: string }>`select count(*) as n from relationships`.execute(trx)).rows[0]!.n),
    usage: (await trx.selectFrom('usage_events').select(['person_id', 'at', 'page', 'feature']).execute())
      .map((r) => `${r.person_id}|${r.at.toISOString()}|${r.page}|${r.feature}`)
      .sort(),
    support: (await trx.selectFrom('support_cases').select('id').orderBy('id').execute()).map((r) => r.id),
    requests: Number((await sql<{ n: string }>`select count(*) as n from data_subject_requests`.execute(trx)).rows[0]!.n),
    runs: Number((await sql<{ n: string }>`select count(*) as n from retention_runs`.execute(trx)).rows[0]!.n),
    partitions: (
      await sql<{ name: string }>`select relname as name from pg_class where relkind in ('r', 'p') and relname ~ '^access_log_(subjects_)?[0-9]{4}_[0-9]{2}$' order by 1`.execute(trx)
    ).rows.map(
      (r) => r.name,
    ),
  }));
}

describe.each(DATABASE_KINDS)('retention rules (%s)', (kind) => {
  let database: TestDatabase;
  const config = testConfig();
  const data = demoData() as Fixture;
  // Far enough ahead that every rule applies to part of the data, and not to all of it. The demo
  // data ends in 2026, so a few recent rows are added for what must stay.
  const now = new Date('2029-09-15T00:00:00.000Z');
  const active = 'per-1-0001';
  const extraUsage = { person: active, at: '2029-08-01T12:00:00.000Z', page: '/account', feature: 'login' };
  const extraSupport = { id: 'case-retention-recent', person: active, openedAt: '2028-08-01T12:00:00.000Z', resolvedAt: '2028-09-01T12:00:00.000Z' };
  data.usageEvents.push(extraUsage);
  data.supportCases.push(extraSupport);
  const cutoff = {
    accounts: cutoffOf(now, RETENTION_PERIODS.accounts).getTime(),
    transactions: cutoffOf(now, RETENTION_PERIODS.transactions).getTime(),
    usage: cutoffOf(now, RETENTION_PERIODS.usage).getTime(),
    support: cutoffOf(now, RETENTION_PERIODS.support).getTime(),
  };
  const t = (iso: string | undefined) => (iso === undefined ? -Infinity : Date.parse(iso));

  // What the retention table says should go, computed from the fixture file (not from the code under test).
  const lastActivity = new Map(
    data.people.map((p) => [
      p.id,
      Math.max(
        t(p.createdAt),
        t(p.lastActiveAt),
        ...data.orders.filter((o) => o.person === p.id).map((o) => t(o.placedAt)),
        ...data.usageEvents.filter((u) => u.person === p.id).map((u) => t(u.at)),
      ),
    ]),
  );
  const inactive = data.people.map((p) => p.id).filter((id) => lastActivity.get(id)! < cutoff.accounts).sort();
  // The held person: inactive, with usage old enough to go; a hold keeps all of it.
  const held = inactive.find((id) => data.usageEvents.some((u) => u.person === id && t(u.at) < cutoff.usage))!;
  const erased = inactive.filter((id) => id !== held);
  const gone = new Set(erased);
  const ordersGone = data.orders.filter((o) => t(o.placedAt) < cutoff.transactions && o.person !== held).map((o) => o.id).sort();
  const usageKept = data.usageEvents
    .filter((u) => !gone.has(u.person) && (t(u.at) >= cutoff.usage || u.person === held))
    .map((u) => `${u.person}|${new Date(u.at).toISOString()}|${u.page}|${u.feature}`)
    .sort();
  const usageByRule = data.usageEvents.filter((u) => !gone.has(u.person) && u.person !== held && t(u.at) < cutoff.usage).length;
  const resolved = (c: { resolvedAt?: string }) => (c.resolvedAt === undefined ? Infinity : Date.parse(c.resolvedAt)); // open cases stay
  const supportByRule = data.supportCases.filter((c) => !gone.has(c.person) && c.person !== held && resolved(c) < cutoff.support);
  const supportKept = data.supportCases
    .filter((c) => !gone.has(c.person) && !supportByRule.includes(c))
    .map((c) => c.id)
    .sort();

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    await owner(database, async (trx) => {
      await trx.insertInto('usage_events').values({ person_id: extraUsage.person, at: extraUsage.at, page: extraUsage.page, feature: extraUsage.feature }).execute();
      await trx
        .insertInto('support_cases')
        .values({ id: extraSupport.id, person_id: active, opened_at: extraSupport.openedAt, resolved_at: extraSupport.resolvedAt, subject: 'Receipt', body: 'Please resend.' })
        .execute();
    });
    await asOfficer(database.app.db, (trx) => placeLegalHold(trx, OFFICER, held, { reason: 'Chargeback dispute pending', until: null }));
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('the fixture exercises every rule, partly', () => {
    expect(erased.length).toBeGreaterThan(0);
    expect(erased.length).toBeLessThan(data.people.length - 1);
    expect(held).toBeDefined();
    expect(ordersGone.length).toBeGreaterThan(0);
    expect(ordersGone.length).toBeLessThan(data.orders.length);
    expect(usageByRule).toBeGreaterThan(0);
    expect(usageKept.length).toBeGreaterThan(0);
    expect(supportByRule.length).toBeGreaterThan(0);
    expect(supportKept.length).toBeGreaterThan(0);
  });

  it('a dry run reports per rule what would go, and changes nothing', async () => {
    const before = await snapshot(database);
    const report = await runRetention(database.owner.db, { now, dryRun: true, runner: 'test', config });
    // What the real run will report: usage and support cases of people erased first go with them.
    expect(report.counts).toEqual({ accounts: erased.length, transactions: ordersGone.length, usage: usageByRule, support: supportByRule.length, accessLogPartitions: 0 });
    expect(report.oldest.transactions?.toISOString()).toBe('2018-03-01T12:00:00.000Z');
    const oldestUsage = Math.min(...data.usageEvents.filter((u) => !gone.has(u.person) && u.person !== held && t(u.at) < cutoff.usage).map((u) => t(u.at)));
    expect(report.oldest.usage?.getTime()).toBe(oldestUsage);
    expect(report.runId).toBeNull();
    expect(await snapshot(database)).toEqual(before);
  });

  it('a real run removes exactly what each rule says, keeps the held person, and is recorded', async () => {
    const before = await snapshot(database);
    const report = await runRetention(database.owner.db, { now, dryRun: false, runner: 'test', config });
    expect(report.counts).toEqual({ accounts: erased.length, transactions: ordersGone.length, usage: usageByRule, support: supportByRule.length, accessLogPartitions: 0 });
    const after = await snapshot(database);

    expect(after.people).toEqual(before.people.filter((id) => !gone.has(id)));
    expect(after.people).toContain(held);
    expect(after.orders).toEqual(before.orders.filter((id) => !ordersGone.includes(id)));
    const ticketsGone = new Set(data.orders.filter((o) => ordersGone.includes(o.id)).flatMap((o) => o.tickets.map((x) => x.id)));
    expect(after.tickets).toEqual(before.tickets.filter((id) => !ticketsGone.has(id)));
    expect(after.usage).toEqual(usageKept);
    expect(after.support).toEqual(supportKept);

    // Erased as an erasure request erases: gone from every table, attendee rows kept pointing at nobody.
    for (const table of ['consents', 'enrichments', 'devices'] as const) {
      expect(after[table].filter((id) => gone.has(id))).toEqual([]);
      expect(after[table]).toContain(held);
    }
    expect(after.attendees.filter((row) => gone.has(row.split('/')[2]!))).toEqual([]);
    const records = await owner(database, (trx) =>
      trx.selectFrom('data_subject_requests').select(['person_id', 'kind', 'completed_at', 'requested_by']).where('kind', '=', 'RETENTION').execute(),
    );
    expect(records.map((r) => r.person_id).sort()).toEqual(erased);
    expect(records.every((r) => r.completed_at !== null && r.requested_by === 'custodian-retention')).toBe(true);

    const runs = await owner(database, (trx) => sql<{ applied_at: Date; counts: unknown }>`select applied_at, counts from retention_runs`.execute(trx));
    expect(runs.rows).toEqual([{ applied_at: now, counts: report.counts }]);

    // A second run at the same instant finds nothing left to do.
    const again = await runRetention(database.owner.db, { now, dryRun: false, runner: 'test', config });
    expect(again.counts).toEqual({ accounts: 0, transactions: 0, usage: 0, support: 0, accessLogPartitions: 0 });
  });

  it('an erased-by-retention person cannot come back through an import, and changes to them say PERSON_ERASED', async () => {
    const { importData } = await import('../src/privacy/import/import-data.js');
    const report = await importData(database.owner.db, demoData());
    expect(report.skippedErasedPeople).toBe(erased.length);
    const { people } = await snapshot(database);
    expect(people.filter((id) => gone.has(id))).toEqual([]);
    const { changeConsent } = await import('../src/privacy/data-subject-service.js');
    await expect(asOfficer(database.app.db, (trx) => changeConsent(trx, OFFICER, erased[0]!, { marketing: false }))).rejects.toMatchObject({
      code: 'PERSON_ERASED',
    });
  });

  it('once the hold is lifted, the held person goes on the next run', async () => {
    await asOfficer(database.app.db, (trx) => liftLegalHold(trx, OFFICER, held));
    const report = await runRetention(database.owner.db, { now, dryRun: false, runner: 'test', config });
    expect(report.counts.accounts).toBe(1);
    expect((await snapshot(database)).people).not.toContain(held);
  });
});

describe.each(DATABASE_KINDS)('access-log partitions and the chain (%s)', (kind) => {
  let database: TestDatabase;
  let keys: TestKeys;
  let gateway: TestGateway;
  const config = testConfig();
  const far = new Date('2040-01-01T00:00:00.000Z');

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    keys = await createTestKeys();
    gateway = await startTestGateway({ database: database.app, auth: keys.auth });
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  const readSomeone = async () => {
    const token = await keys.sign({ roles: ['support_agent'] });
    const response = await gateway.request<{ attendees: { edges: unknown[] } }>({
      query: '{ attendees(first: 3) { edges { node { name } } } }',
      token,
      purpose: 'customer-support',
    });
    expect(response.body.errors).toBeUndefined();
  };

  it('keeps a month that holds entries about a person under legal hold', async () => {
    await readSomeone();
    const [subject] = await owner(database, (trx) => sql<{ person_id: string }>`select person_id from access_log_subjects limit 1`.execute(trx)).then(
      (r) => r.rows.map((row) => row.person_id),
    );
    await asOfficer(database.app.db, (trx) => placeLegalHold(trx, OFFICER, subject!, { reason: 'Regulator inquiry', until: null }));
    const report = await runRetention(database.owner.db, { now: far, dryRun: false, runner: 'test', config });
    expect(report.counts.accessLogPartitions).toBe(0);
    expect(report.partitionsKeptForHolds.length).toBeGreaterThan(0);
    await asOfficer(database.app.db, (trx) => liftLegalHold(trx, OFFICER, subject!));
  });

  it('drops months older than 7 years whole; audit:verify passes from the signed cut, also after new entries', async () => {
    await readSomeone();
    const heads = await owner(database, (trx) => chainHeads(trx));
    const before = await snapshot(database);
    const dry = await runRetention(database.owner.db, { now: far, dryRun: true, runner: 'test', config });
    expect(await snapshot(database)).toEqual(before);
    const report = await runRetention(database.owner.db, { now: far, dryRun: false, runner: 'test', config });
    expect(report.counts.accessLogPartitions).toBe(dry.counts.accessLogPartitions);
    expect(report.counts.accessLogPartitions).toBeGreaterThan(0);
    const after = await snapshot(database);
    // Each dropped month goes with its person index; months from 2040 on were created ahead.
    const droppedMonths = before.partitions.filter((p) => !after.partitions.includes(p));
    expect(droppedMonths.length).toBe(2 * report.counts.accessLogPartitions);
    expect(after.partitions).toContain('access_log_2041_01');
    const left = await owner(database, (trx) => sql<{ n: string }>`select count(*) as n from access_log where at < ${cutoffOf(far, RETENTION_PERIODS.accessLogPartitions)}`.execute(trx));
    expect(Number(left.rows[0]!.n)).toBe(0);

    const verified = await verifyAccessLog(database.owner.db, config);
    expect(verified.problem).toBeUndefined();
    expect(verified.heads).toEqual(heads);

    // The cut records where it left each chain that had entries, as signed.
    const cut = await owner(database, (trx) => latestCut(trx));
    expect(cut?.heads).toEqual(heads.filter((head) => head.link !== '0'));
    expect((await readCheckpoint(config, cut!.checkpoint)).heads).toEqual(cut!.heads);

    // The chain goes on from the cut.
    await readSomeone();
    expect((await verifyAccessLog(database.owner.db, config)).problem).toBeUndefined();
  });

  it('an entry slipped in at or before a chain\'s cut, dated into a kept month, is caught', async () => {
    const cut = (await owner(database, (trx) => latestCut(trx)))!;
    const { chain, link } = cut.heads![0]!;
    const content = {
      at: new Date('2041-01-15T00:00:00.000Z'), actor: 'forger', role: 'support_agent', tenantId: null, purpose: 'customer-support',
      operationName: null, requestId: 'forged', tokenId: null, clientAddress: null, subjects: [], fields: [], masked: [], exposure: {},
      outcome: 'ALLOWED' as const, errorCode: null, correlationId: null, maskedBySubject: {}, aggregates: [],
    };
    const prev = 'a'.repeat(64);
    const hashes = { content: contentHash(content), hash: chainHash(prev, link, contentHash(content)) };
    await owner(database, async (trx) => {
      await sql`alter table access_log disable trigger access_log_chain`.execute(trx);
      await sql`insert into access_log (seq, chain, link, at, actor, role, purpose, request_id, subjects, fields, masked, exposure, outcome, content_hash, prev_hash, hash)
        values (999999, ${chain}::smallint, ${link}::bigint, ${content.at}, 'forger', 'support_agent', 'customer-support', 'forged', '{}', '{}', '{}', '{}', 'ALLOWED',
          ${hashes.content}, ${prev}, ${hashes.hash})`.execute(trx);
      await sql`alter table access_log enable trigger access_log_chain`.execute(trx);
    });
    const report = await verifyAccessLog(database.owner.db, config);
    expect(report.problem).toMatchObject({ kind: 'REORDERED_OR_INSERTED', chain, link, seq: '999999' });
    await owner(database, async (trx) => {
      await sql`alter table access_log disable trigger access_log_append_only`.execute(trx);
      await sql`delete from access_log where seq = 999999`.execute(trx);
      await sql`alter table access_log enable trigger access_log_append_only`.execute(trx);
    });
    expect((await verifyAccessLog(database.owner.db, config)).problem).toBeUndefined();
  });

  it('a cut cannot be edited, deleted or truncated, by the owner either', async () => {
    for (const statement of [
      sql`update access_log_cuts set hash = ${'f'.repeat(64)}`,
      sql`delete from access_log_cuts`,
      sql`truncate access_log_cuts`,
    ]) {
      await expect(owner(database, (trx) => statement.execute(trx))).rejects.toThrow(/append-only/);
    }
    expect((await verifyAccessLog(database.owner.db, config)).problem).toBeUndefined();
  });

  it('a forged cut is caught (its triggers disabled, as only the owner or a superuser can)', async () => {
    await owner(database, async (trx) => {
      await sql`alter table access_log_cuts disable trigger access_log_cuts_append_only`.execute(trx);
      await sql`update access_log_cuts set hash = ${'f'.repeat(64)}`.execute(trx);
      await sql`alter table access_log_cuts enable trigger access_log_cuts_append_only`.execute(trx);
    });
    const report = await verifyAccessLog(database.owner.db, config);
    expect(report.problem?.kind).toBe('CHECKPOINT');
    expect(report.problem?.message).toMatch(/does not match its signed checkpoint/);
  });

  it('privacy officers read the runs; nobody else does', async () => {
    const officer = await keys.sign({ roles: ['privacy_officer'] });
    const runs = await gateway.request<{ retentionRuns: { edges: { node: { now: string; runner: string; counts: Record<string, number> } }[] } }>({
      query: '{ retentionRuns(first: 10) { edges { node { id at now runner counts { accounts transactions usage support accessLogPartitions } } } pageInfo { hasNextPage } } }',
      token: officer,
      purpose: 'legal-compliance',
    });
    expect(runs.body.errors).toBeUndefined();
    const nodes = runs.body.data!.retentionRuns.edges.map((e) => e.node);
    expect(nodes).toHaveLength(2);
    expect(nodes[0]!.now).toBe(far.toISOString());
    expect(nodes[0]!.counts.accessLogPartitions).toBeGreaterThan(0);
    const paged = await gateway.request<{ retentionRuns: { edges: { cursor: string }[] } }>({
      query: '{ retentionRuns(first: 1) { edges { cursor } } }',
      token: officer,
      purpose: 'legal-compliance',
    });
    const next = await gateway.request<{ retentionRuns: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean } } }>({
      query: 'query($after: String) { retentionRuns(first: 5, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }',
      variables: { after: paged.body.data!.retentionRuns.edges[0]!.cursor },
      token: officer,
      purpose: 'legal-compliance',
    });
    expect(next.body.data!.retentionRuns.edges).toHaveLength(1);

    for (const [roles, purpose] of [
      [['security_reviewer'], 'security-audit'],
      [['data_subject'], 'self-service'],
    ] as const) {
      const refused = await gateway.request({ query: '{ retentionRuns { edges { node { id } } } }', token: await keys.sign({ roles: [...roles], sub: 'per-1-0001' }), purpose });
      expect(refused.status).toBe(403);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('FIELD_NOT_PERMITTED');
    }
  });
});

const run = promisify(execFile);
const TSX = path.join(projectRoot, 'node_modules', '.bin', 'tsx');

describe.each(DATABASE_KINDS)('npm run retention (%s)', (kind) => {
  let database: TestDatabase | undefined;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-retention-cli-'));
    env = { PATH: process.env.PATH, DATA_DIR: dataDir };
    if (kind === 'postgres') {
      database = await createTestDatabase(kind);
      env.MIGRATE_DATABASE_URL = database.ownerUrl;
    } else {
      await run(TSX, ['src/cli/seed.ts', '--file', 'fixtures/demo.json'], { cwd: projectRoot, env });
    }
  });
  afterAll(async () => {
    await database?.destroy();
  });

  const cli = (script: string, ...args: string[]) => run(TSX, [`src/cli/${script}.ts`, ...args], { cwd: projectRoot, env });

  it('--dry-run --json prints one object with a count per rule and changes nothing; a real run is recorded; audit:verify passes', async () => {
    const dry = JSON.parse((await cli('retention', '--dry-run', '--json', '--now', '2040-01-01T00:00:00Z')).stdout) as Record<string, unknown>;
    expect(dry).toMatchObject({ accounts: 60, transactions: 86, dryRun: true, runId: null });
    for (const key of ['accounts', 'transactions', 'usage', 'support', 'accessLogPartitions']) expect(typeof dry[key]).toBe('number');
    const text = (await cli('retention', '--dry-run', '--now', '2040-01-01')).stdout;
    expect(text).toMatch(/dry run: nothing changed/);
    expect(text).toMatch(/accounts inactive 3 years \(erased\): 60 would go, oldest/);

    // The real run finds what the dry runs reported: they changed nothing.
    const real = JSON.parse((await cli('retention', '--json', '--now', '2040-01-01T00:00:00Z')).stdout) as Record<string, unknown>;
    expect(real).toMatchObject({ ...dry, dryRun: false, runId: expect.any(String), partitionsCreated: expect.any(Number) });
    expect(real['accessLogPartitions']).toBeGreaterThan(0);
    expect(typeof real['runId']).toBe('string');
    expect((await cli('audit', 'verify')).stdout).toMatch(/^access log: OK/);
  }, 300_000);

  it('refuses a bad --now and unknown arguments with a message and exit 1', async () => {
    await expect(cli('retention', '--now', 'next tuesday')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/--now must be an ISO-8601/) });
    await expect(cli('retention', '--force')).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/Unknown argument "--force"/) });
  }, 120_000);
});
