/**
 * The access log's insert path under concurrency: the chained log of migration 0010 against the
 * single-head design it replaced (0004), on the same server, in the same database.
 *
 * Each client commits one entry per transaction (BEGIN; INSERT; COMMIT), as the gateway's
 * requests do. Load comes from pgbench (-c clients, -j threads, -T seconds, a custom script,
 * prepared statements), a maintained tool, not a hand-written loop; p50/p99 come from its
 * per-transaction log. Rounds are interleaved (every peer and client count once per round), so
 * drift on the machine hits both peers alike.
 *
 * The "before" peer is 0004's design rebuilt in a scratch schema of the bench database: the same
 * columns, indexes, person index and partitioning, and a BEFORE INSERT trigger that takes one head
 * row FOR UPDATE, exactly as 0004's did. Both are written by the gateway's own role.
 *
 * Options: bench/run.ts's --duration (seconds per run) and --rounds.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import type { TestDatabase } from '../tests/support/test-database.js';
import { percentile } from './percentile.js';

const run = promisify(execFile);
const PGBENCH = process.env.PGBENCH ?? '/usr/bin/pgbench';
const CLIENTS = [1, 8, 32] as const;
const OLD_SCHEMA = 'bench_single_head';
/** The issue's target: the insert path at least 10× the single head's ceiling. */
const TARGET = 10;

interface Peer {
  name: string;
  table: string;
}
const PEERS: Peer[] = [
  { name: 'single head (0004, before)', table: `${OLD_SCHEMA}.access_log` },
  { name: 'chains (0010)', table: 'public.access_log' },
];

interface Run {
  transactions: number;
  seconds: number;
  latenciesMs: number[];
}

export async function accessLogInsertBench(database: TestDatabase, options: { seconds: number; rounds: number }): Promise<void> {
  if (database.ownerUrl === undefined || database.appUrl === undefined) {
    process.stdout.write('\nAccess-log insert path: its scaling with clients needs PostgreSQL (the embedded database has one connection); set BENCH_DATABASE_URL.\n');
    return;
  }
  const { seconds, rounds } = options;
  const appRole = decodeURIComponent(new URL(database.appUrl).username);
  await createSingleHeadPeer(database, appRole);
  const settings = await sql<{ name: string; setting: string }>`select name, setting from pg_settings
    where name in ('synchronous_commit', 'fsync', 'wal_sync_method', 'max_connections') order by name`.execute(database.owner.db);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-log-bench-'));
  const results = new Map<string, Run[]>();
  try {
    for (const peer of PEERS) fs.writeFileSync(scriptFile(dir, peer), script(peer));
    process.stdout.write(`\nAccess-log insert path: ${rounds} interleaved rounds of ${seconds} s per peer and client count (pgbench)\n`);
    for (let round = 1; round <= rounds; round += 1) {
      for (const clients of CLIENTS) {
        for (const peer of PEERS) {
          const result = await pgbench(database.appUrl, dir, peer, clients, seconds);
          const key = `${peer.name}|${clients}`;
          results.set(key, [...(results.get(key) ?? []), result]);
          process.stdout.write(`  round ${round}: ${peer.name}, ${clients} clients: ${(result.transactions / result.seconds).toFixed(0)} inserts/s\n`);
        }
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    await sql`drop schema if exists ${sql.id(OLD_SCHEMA)} cascade`.execute(database.owner.db);
  }
  printTable(results, settings.rows);
}

/** 0004's design, rebuilt beside the real log: one head row taken FOR UPDATE by every insert. */
async function createSingleHeadPeer(database: TestDatabase, appRole: string): Promise<void> {
  const schema = sql.id(OLD_SCHEMA);
  const db = database.owner.db;
  await sql`drop schema if exists ${schema} cascade`.execute(db);
  await sql`create schema ${schema}`.execute(db);
  await sql`create table ${schema}.access_log (like public.access_log including defaults including constraints) partition by range (at)`.execute(db);
  await sql`alter table ${schema}.access_log add primary key (at, seq)`.execute(db);
  await sql`create index on ${schema}.access_log (seq)`.execute(db);
  await sql`create index on ${schema}.access_log using gin (subjects)`.execute(db);
  await sql`create index on ${schema}.access_log (actor, at)`.execute(db);
  await sql`create index on ${schema}.access_log (token_id, at) where token_id is not null`.execute(db);
  await sql`create index on ${schema}.access_log (tenant_id, at)`.execute(db);
  await sql`create table ${schema}.access_log_subjects (person_id text not null, at timestamptz not null, seq bigint not null,
    primary key (person_id, at, seq)) partition by range (at)`.execute(db);
  // The same monthly partitioning as the real log: this month's partition takes the entries.
  const month = sql`date_trunc('month', now())::date`;
  for (const table of ['access_log', 'access_log_subjects']) {
    const name = (await sql<{ name: string }>`select ${table} || '_' || to_char(${month}, 'YYYY_MM') as name`.execute(db)).rows[0]!.name;
    await sql`create table ${sql.id(OLD_SCHEMA, name)} partition of ${sql.id(OLD_SCHEMA, table)}
      for values from (${month}) to ((${month} + interval '1 month')::date)`.execute(db);
    await sql`create table ${sql.id(OLD_SCHEMA, `${table}_default`)} partition of ${sql.id(OLD_SCHEMA, table)} default`.execute(db);
  }
  await sql`create table ${schema}.access_log_head (only_row boolean primary key default true check (only_row), seq bigint not null, hash text not null)`.execute(db);
  await sql`insert into ${schema}.access_log_head (seq, hash) values (0, ${'0'.repeat(64)})`.execute(db);
  await sql`create function ${schema}.chain() returns trigger language plpgsql
    security definer set search_path = ${sql.raw(OLD_SCHEMA)}, pg_temp as $$
    declare head record;
    begin
      select seq, hash into head from access_log_head where only_row for update;
      new.seq := head.seq + 1;
      new.prev_hash := head.hash;
      new.hash := encode(sha256(convert_to(head.hash || ':' || new.seq::text || ':' || new.content_hash, 'UTF8')), 'hex');
      update access_log_head set seq = new.seq, hash = new.hash where only_row;
      insert into access_log_subjects (person_id, at, seq) select distinct unnest(new.subjects), new.at, new.seq;
      return new;
    end $$`.execute(db);
  await sql`create trigger access_log_chain before insert on ${schema}.access_log for each row execute function ${schema}.chain()`.execute(db);
  await sql`grant usage on schema ${schema} to ${sql.id(appRole)}`.execute(db);
  await sql`grant insert on ${schema}.access_log to ${sql.id(appRole)}`.execute(db);
}

const scriptFile = (dir: string, peer: Peer) => path.join(dir, `${peer.table.replace('.', '_')}.sql`);

/** One request's entry: three people, two fields, the gateway's column set. */
const script = (peer: Peer) => `\\set p random(1, 200000)
BEGIN;
INSERT INTO ${peer.table} (at, actor, role, tenant_id, purpose, operation_name, request_id, token_id, client_address,
  subjects, fields, masked, exposure, outcome, error_code, content_hash)
VALUES (now(), 'bench-actor', 'organizer_admin', 'northwind-live', 'ticketing', 'Dashboard', 'req-' || :client_id || '-' || :p, 'jti-bench',
  '127.0.0.1', array['per-b-' || :p, 'per-b-' || (:p + 1), 'per-b-' || (:p + 2)], array['Attendee.name', 'Attendee.email'], '{}',
  '{}', 'ALLOWED', null, repeat('a', 64));
COMMIT;
`;

async function pgbench(url: string, dir: string, peer: Peer, clients: number, seconds: number): Promise<Run> {
  const target = new URL(url);
  const prefix = path.join(dir, `log-${clients}-${peer.table.replace('.', '_')}-${Date.now()}`);
  const { stdout } = await run(
    PGBENCH,
    [
      '-n', '-M', 'prepared', '-c', String(clients), '-j', String(Math.min(clients, 2)), '-T', String(seconds),
      '-f', scriptFile(dir, peer), '-l', '--log-prefix', prefix,
      '-h', target.hostname, '-p', target.port || '5432', '-U', decodeURIComponent(target.username), target.pathname.slice(1),
    ],
    { env: { ...process.env, PGPASSWORD: decodeURIComponent(target.password) }, maxBuffer: 16 * 1024 * 1024 },
  );
  const processed = /number of transactions actually processed: (\d+)/.exec(stdout);
  const failed = /number of failed transactions: (\d+)/.exec(stdout);
  if (processed === null) throw new Error(`pgbench printed no result:\n${stdout}`);
  if (failed !== null && Number(failed[1]) > 0) throw new Error(`pgbench: ${failed[1]} transactions failed`);
  const latenciesMs: number[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => path.join(dir, f).startsWith(prefix))) {
    for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
      const fields = line.split(' ');
      if (fields.length >= 3) latenciesMs.push(Number(fields[2]) / 1000);
    }
    fs.rmSync(path.join(dir, file));
  }
  return { transactions: Number(processed[1]), seconds, latenciesMs };
}


function printTable(results: Map<string, Run[]>, settings: { name: string; setting: string }[]): void {
  const rate = (runs: Run[]) => runs.reduce((n, r) => n + r.transactions, 0) / runs.reduce((s, r) => s + r.seconds, 0);
  const rows: string[] = [];
  const rateOf = new Map<string, number>();
  for (const clients of CLIENTS) {
    for (const peer of PEERS) {
      const runs = results.get(`${peer.name}|${clients}`) ?? [];
      const latencies = runs.flatMap((r) => r.latenciesMs);
      const perRound = runs.map((r) => r.transactions / r.seconds);
      const value = rate(runs);
      rateOf.set(`${peer.name}|${clients}`, value);
      const ratio = peer === PEERS[1] ? `${(value / rateOf.get(`${PEERS[0]!.name}|${clients}`)!).toFixed(1)}×` : '';
      rows.push(
        `${peer.name.padEnd(28)}${String(clients).padStart(8)}${value.toFixed(0).padStart(11)}` +
          `${`${Math.min(...perRound).toFixed(0)}–${Math.max(...perRound).toFixed(0)}`.padStart(14)}` +
          `${percentile(latencies, 50).toFixed(2).padStart(10)}${percentile(latencies, 99).toFixed(2).padStart(10)}${ratio.padStart(11)}`,
      );
    }
  }
  const ceiling = Math.max(...CLIENTS.map((c) => rateOf.get(`${PEERS[0]!.name}|${c}`)!));
  const best = Math.max(...CLIENTS.map((c) => rateOf.get(`${PEERS[1]!.name}|${c}`)!));
  process.stdout.write(
    `\nAccess-log insert path, one entry per transaction (${os.cpus().length} CPUs shared by pgbench and the server; ` +
      `${settings.map((s) => `${s.name}=${s.setting}`).join(', ')})\n` +
      `${'peer'.padEnd(28)}${'clients'.padStart(8)}${'inserts/s'.padStart(11)}${'per round'.padStart(14)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}${'new / old'.padStart(11)}\n` +
      `${rows.join('\n')}\n` +
      `Target: at least ${TARGET}× the single head's ceiling (${ceiling.toFixed(0)} inserts/s here, so ${(TARGET * ceiling).toFixed(0)}); ` +
      `the chains reach ${best.toFixed(0)} inserts/s, ${(best / ceiling).toFixed(1)}× (${best >= TARGET * ceiling ? 'met' : 'not met on this machine'}).\n`,
  );
}
