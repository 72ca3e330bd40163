/**
 * `npm run bench`: Custodian against its peers, side by side in one run, with ratios.
 *
 *   1. throughput: the organizer dashboard page (100 attendees, 204 orders, 415 tickets) through
 *      the gateway as `npm start` serves it, against the same rows from one hand-written SQL
 *      statement, with autocannon at 1, 8 and 32 connections in interleaved rounds: req/s, p50,
 *      p99, the gateway's RSS, and the ratios (bench/throughput.ts).
 *   2. log-insert: the access log's insert path at 1, 8 and 32 clients with pgbench, the 64-chain
 *      log against the single-head design it replaced (bench/access-log-insert.ts; PostgreSQL).
 *   3. attack: another caller's one-attendee read while 12 clients flood the gateway.
 *   4. history: one person's access history (50 newest entries) over a large access log, through
 *      the gateway and with plain SQL through the (person, at, seq) history index, against a scan
 *      of the subjects arrays with index scans switched off (what an unindexed log would cost).
 *
 * Options: --only throughput,log-insert,attack,history (default: all); --duration S (seconds per
 * peer per concurrency per round, default 5) and --rounds N (default 3) for 1 and 2; --entries N
 * (access-log size for 4; default 10,000,000 on PostgreSQL, 200,000 on the embedded database);
 * --iterations N (default 200) for 3 and 4. BENCH_DATABASE_URL (or TEST_DATABASE_URL) selects a
 * PostgreSQL server, on which a scratch database is created and dropped; without it the benchmark
 * runs on PGlite.
 */
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import { parseArgs } from '../src/cli/run-cli.js';
import { withScope } from '../src/db/request-scope.js';
import { createTestDatabase, type TestDatabase } from '../tests/support/test-database.js';
import { createTestKeys } from '../tests/support/test-keys.js';
import { startTestGateway, type TestGateway } from '../tests/support/test-gateway.js';
import { importData } from '../src/privacy/import/import-data.js';
import { dashboardData } from './dashboard-data.js';
import { percentile } from './percentile.js';
import { throughputBench } from './throughput.js';
import { accessLogInsertBench } from './access-log-insert.js';

interface Measurement {
  name: string;
  samples: number[];
  heapDelta: number;
}

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const args = parseArgs(process.argv.slice(2), { entries: 'value', iterations: 'value', duration: 'value', rounds: 'value', only: 'value' });
const kind = adminUrl ? 'postgres' : 'pglite';
const entries = Number(args.get('entries') ?? (kind === 'postgres' ? 10_000_000 : 200_000));
const iterations = Number(args.get('iterations') ?? 200);
const duration = Number(args.get('duration') ?? 5);
const rounds = Number(args.get('rounds') ?? 3);
const SECTIONS = ['throughput', 'log-insert', 'attack', 'history'] as const;
const only = args.get('only')?.split(',') ?? [...SECTIONS];
if (!Number.isInteger(entries) || entries < 1000 || !Number.isInteger(iterations) || iterations < 10) {
  throw new Error('--entries must be at least 1000 and --iterations at least 10');
}
if (!Number.isInteger(duration) || duration < 1 || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error('--duration (seconds) and --rounds must be positive whole numbers');
}
if (only.some((section) => !(SECTIONS as readonly string[]).includes(section))) {
  throw new Error(`--only takes a comma-separated list of ${SECTIONS.join(', ')}`);
}
const runs = (section: (typeof SECTIONS)[number]) => only.includes(section);


async function measure(name: string, run: () => Promise<unknown>, count = iterations): Promise<Measurement> {
  for (let i = 0; i < Math.min(20, count); i++) await run();
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  return { name, samples, heapDelta: process.memoryUsage().heapUsed - heapBefore };
}

function report(title: string, peers: Measurement[]): void {
  const base = peers[0]!;
  const baseP50 = percentile(base.samples, 50);
  process.stdout.write(`\n${title}\n`);
  process.stdout.write(`${'peer'.padEnd(52)} ${'p50 ms'.padStart(9)} ${'p95 ms'.padStart(9)} ${'ratio'.padStart(8)} ${'heap Δ MB'.padStart(10)}\n`);
  for (const peer of peers) {
    const p50 = percentile(peer.samples, 50);
    process.stdout.write(
      `${peer.name.padEnd(52)} ${p50.toFixed(2).padStart(9)} ${percentile(peer.samples, 95).toFixed(2).padStart(9)} ` +
        `${(p50 / baseP50).toFixed(2).padStart(7)}x ${(peer.heapDelta / 1_048_576).toFixed(1).padStart(10)}\n`,
    );
  }
}

const DASHBOARD = `query Dashboard { attendees(first: 500) { edges { node { id name email
  orders { id placedAt totalCents currency status tickets { id type checkedInAt } } } } } }`;

const ONE_ATTENDEE = '{ attendees(first: 1) { edges { node { id name } } } }';
const ALIAS_FLOOD = `{ ${Array.from({ length: 3_000 }, (_, i) => `a${i}: events(first: 500) { edges { node { id name } } }`).join(' ')} }`;

/**
 * Issue 9's pool attack: while 12 clients keep sending the 3,000-alias flood (refused before it
 * runs) or the largest dashboard page the limits allow, how long does another caller's
 * one-attendee read take? Tests assert only the refusals; this measures the figure.
 */
async function underAttack(gateway: TestGateway, token: string) {
  const read = async () => {
    const response = await gateway.request({ query: ONE_ATTENDEE, token, purpose: 'ticketing' });
    if (response.status !== 200) throw new Error(`gateway answered ${response.status}`);
  };
  const whileFlooding = async (name: string, query: string) => {
    let flooding = true;
    const attackers = Array.from({ length: 12 }, async () => {
      while (flooding) await gateway.request({ query, token, purpose: 'ticketing' });
    });
    try {
      return await measure(name, read, Math.max(10, Math.floor(iterations / 4)));
    } finally {
      flooding = false;
      await Promise.all(attackers);
    }
  };
  const quiet = await measure('one-attendee read, nobody else', read);
  const floods = await whileFlooding('same, while 12 clients send 3,000-alias floods', ALIAS_FLOOD);
  const pages = await whileFlooding('same, while 12 clients read 500-attendee pages', DASHBOARD);
  report("Another caller's read under attack (12 concurrent attackers)", [quiet, floods, pages]);
}

async function loadAccessLog(database: TestDatabase): Promise<void> {
  const started = performance.now();
  const db = database.owner.db;
  await withScope(db, { kind: 'maintenance' }, async (trx) => {
    await sql`select custodian_access_log_partition((date_trunc('month', now()) - make_interval(months => m))::date)
      from generate_series(0, 12) m`.execute(trx);
    // Bulk load: the chain trigger and the GIN index are set aside and rebuilt, as for a restore
    // (the loaded entries are not chained: this database exists only for the benchmark).
    await sql`alter table access_log disable trigger access_log_chain`.execute(trx);
    await sql`drop index access_log_by_subject`.execute(trx);
  });
  const batch = 500_000;
  for (let start = 1; start <= entries; start += batch) {
    const end = Math.min(entries, start + batch - 1);
    await withScope(db, { kind: 'maintenance' }, (trx) =>
      sql`insert into access_log (seq, at, actor, role, tenant_id, purpose, operation_name, request_id, token_id,
            client_address, subjects, fields, masked, exposure, outcome, error_code, content_hash, prev_hash, hash)
          select g + 1000000000, now() - ((g % 360) || ' days')::interval - ((g % 86400) || ' seconds')::interval,
            'bench-actor-' || (g % 50), 'organizer_admin', 'northwind-live', 'ticketing', 'Dashboard', 'req-' || g,
            'jti-' || (g % 5000), '127.0.0.1',
            array['per-b-' || (g % 200000), 'per-b-' || ((g * 7) % 200000), 'per-b-' || ((g * 13) % 200000)],
            array['Attendee.name', 'Attendee.email'], '{}', '{}', 'ALLOWED', null,
            repeat('a', 64), repeat('0', 64), repeat('0', 64)
          from generate_series(${start}::bigint, ${end}::bigint) g`.execute(trx),
    );
    await withScope(db, { kind: 'maintenance' }, (trx) =>
      sql`insert into access_log_subjects (person_id, at, seq)
          select distinct unnest(subjects), at, seq from access_log
          where seq between ${start + 1_000_000_000}::bigint and ${end + 1_000_000_000}::bigint
          on conflict do nothing`.execute(trx),
    );
    process.stdout.write(`  loaded ${end.toLocaleString()} of ${entries.toLocaleString()} entries\r`);
  }
  await withScope(db, { kind: 'maintenance' }, async (trx) => {
    await sql`create index access_log_by_subject on access_log using gin (subjects)`.execute(trx);
    await sql`alter table access_log enable trigger access_log_chain`.execute(trx);
    // Bench entries sit at seq 1e9+ (clear of the gateway's own; they read as chain 0 with
    // link = seq and are not chained); the gateway's next entries take seq after them.
    await sql`select setval('access_log_seq', ${1_000_000_000 + entries})`.execute(trx);
  });
  await sql`analyze access_log`.execute(db);
  await sql`analyze access_log_subjects`.execute(db);
  process.stdout.write(`\n  access log of ${entries.toLocaleString()} entries ready in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

async function personHistory(database: TestDatabase, gateway: TestGateway, token: string) {
  const person = 'per-b-4242';
  // The gateway's own query shape: the person's entries through the (person, at, seq) index.
  const history = sql`select l.seq, l.at, l.actor, l.purpose, l.fields from (select at, seq from access_log_subjects
      where person_id = ${person} order by at desc, seq desc limit 50) h
    join access_log l on l.at = h.at and l.seq = h.seq order by l.at desc, l.seq desc`;
  const viaGateway = await measure('gateway accessLog(filter: {subjectId}, first: 50)', async () => {
    const response = await gateway.request({
      query: `query History($p: ID) { accessLog(filter: { subjectId: $p }, first: 50) { edges { node { id at actor purpose fields } } } }`,
      variables: { p: person },
      token,
      purpose: 'security-audit',
    });
    if (response.status !== 200) throw new Error(`gateway answered ${response.status}`);
  });
  const indexed = await measure('plain SQL through the history index', () =>
    withScope(database.owner.db, { kind: 'maintenance' }, (trx) => history.execute(trx)),
  );
  const unindexed = await measure(
    'plain SQL, index scans off (an unindexed log)',
    () =>
      withScope(database.owner.db, { kind: 'maintenance' }, async (trx) => {
        await sql`set local enable_bitmapscan = off`.execute(trx);
        await sql`set local enable_indexscan = off`.execute(trx);
        return sql`select seq, at, actor, purpose, fields from access_log where subjects @> array[${person}]::text[]
          order by at desc, seq desc limit 50`.execute(trx);
      }),
    Math.max(3, Math.min(10, Math.floor(iterations / 20))),
  );
  report(`One person's history: 50 newest of ${entries.toLocaleString()} log entries`, [indexed, viaGateway, unindexed]);
}

const database = await createTestDatabase(kind, { adminUrl, name: adminUrl ? `custodian_bench_${process.pid}` : undefined });
if (kind === 'postgres') await importData(database.owner.db, dashboardData());
try {
  const keys = await createTestKeys();
  const gateway = await startTestGateway({ database: database.app, auth: keys.auth });
  try {
    process.stdout.write(`Custodian benchmark on ${kind === 'postgres' ? 'PostgreSQL' : 'PGlite'}, ${iterations} iterations per peer\n`);
    if (runs('throughput')) await throughputBench(kind === 'postgres' ? database : undefined, keys, { duration, rounds, concurrencies: [1, 8, 32] });
    if (runs('log-insert')) await accessLogInsertBench(database, { seconds: duration, rounds });
    if (runs('attack')) await underAttack(gateway, await keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live', ttl: '2h' }));
    if (runs('history')) {
      await loadAccessLog(database);
      await personHistory(database, gateway, await keys.sign({ roles: ['security_reviewer'], ttl: '2h' }));
    }
  } finally {
    await gateway.close();
  }
} finally {
  await database.destroy();
}
