/**
 * Throughput under concurrency (issue 10): the organizer-dashboard page through the gateway
 * against the same rows served by one hand-written SQL statement, with autocannon at 1, 8 and 32
 * connections, interleaved rounds so both peers see the same machine. The servers run in a child
 * process (bench/peer-server.ts) so the RSS printed is the gateway's own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { TestDatabase } from '../tests/support/test-database.js';
import { TEST_AUDIENCE, TEST_ISSUER, type TestKeys } from '../tests/support/test-keys.js';
import { percentile } from './percentile.js';
import { BENCH_ATTENDEES, BENCH_EVENT, BENCH_TENANT, DASHBOARD_QUERY } from './dashboard-data.js';

export interface ThroughputOptions {
  /** Seconds per peer per concurrency per round. */
  duration: number;
  rounds: number;
  concurrencies: readonly number[];
}

interface Run {
  requests: number;
  seconds: number;
  p50: number;
  p99: number;
  rssMb: number;
}

interface Peers {
  gatewayUrl: string;
  rawUrl: string;
  child: ChildProcess;
}

const here = path.dirname(fileURLToPath(import.meta.url));

async function startPeers(database: TestDatabase | undefined, keys: TestKeys): Promise<Peers> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-bench-'));
  const child = fork(path.join(here, 'peer-server.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env: {
      ...process.env,
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      BENCH_DATABASE_KIND: database === undefined ? 'pglite' : 'postgres',
      BENCH_APP_URL: database?.appUrl ?? '',
      BENCH_OWNER_URL: database?.ownerUrl ?? '',
      MIGRATE_DATABASE_URL: database?.ownerUrl ?? '',
      AUTH_PUBLIC_KEY_FILE: keys.jwksFile,
      AUTH_ISSUER: TEST_ISSUER,
      AUTH_AUDIENCE: TEST_AUDIENCE,
      // The benchmark is one caller flooding on purpose: the rate limiter is not what is measured.
      RATE_LIMIT_SUBJECT_PER_MINUTE: '100000000',
      RATE_LIMIT_TENANT_PER_MINUTE: '100000000',
      RATE_LIMIT_STORE: 'memory',
      RETENTION_INTERVAL: '',
      LOG_LEVEL: 'warn',
    },
  });
  const urls = await new Promise<{ gatewayUrl: string; rawUrl: string }>((resolve, reject) => {
    child.once('message', (message) => resolve(message as { gatewayUrl: string; rawUrl: string }));
    child.once('exit', (code) => reject(new Error(`the benchmark's server process exited (${code}) before it served`)));
  });
  return { ...urls, child };
}

function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

interface Target {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

async function load(target: Target, connections: number, duration: number, pid: number): Promise<Run> {
  let peak = rssMb(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
  try {
    const result = await autocannon({ ...target, connections, duration, pipelining: 1 });
    if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
      throw new Error(`${target.url}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`);
    }
    return { requests: result.requests.total, seconds: result.duration, p50: result.latency.p50, p99: result.latency.p99, rssMb: peak };
  } finally {
    clearInterval(sampler);
  }
}

async function firstPage(target: Target): Promise<{ attendees: number; orders: number; tickets: number; bytes: number }> {
  const response = await fetch(target.url, { method: target.method, headers: target.headers, body: target.body });
  const text = await response.text();
  const body = JSON.parse(text) as {
    data?: { attendees: { edges: { node: { orders: { tickets: unknown[] }[] } }[] } };
    errors?: unknown[];
  };
  if (response.status !== 200 || body.data === undefined || body.errors !== undefined) {
    throw new Error(`${target.url} answered ${response.status}: ${text.slice(0, 300)}`);
  }
  const nodes = body.data.attendees.edges.map((edge) => edge.node);
  const orders = nodes.flatMap((node) => node.orders);
  return { attendees: nodes.length, orders: orders.length, tickets: orders.reduce((sum, order) => sum + order.tickets.length, 0), bytes: text.length };
}

export async function throughputBench(database: TestDatabase | undefined, keys: TestKeys, options: ThroughputOptions): Promise<void> {
  const peers = await startPeers(database, keys);
  try {
    const token = await keys.sign({ roles: ['organizer_admin'], tenant: BENCH_TENANT, ttl: '2h' });
    const gateway: Target = {
      url: peers.gatewayUrl,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'ticketing' },
      body: JSON.stringify({ query: DASHBOARD_QUERY, variables: { event: BENCH_EVENT }, operationName: 'Dashboard' }),
    };
    const raw: Target = { url: peers.rawUrl, method: 'GET', headers: {} };
    const shapes = { gateway: await firstPage(gateway), raw: await firstPage(raw) };
    if (shapes.gateway.attendees !== BENCH_ATTENDEES || JSON.stringify({ ...shapes.gateway, bytes: 0 }) !== JSON.stringify({ ...shapes.raw, bytes: 0 })) {
      throw new Error(`the peers do not serve the same page: ${JSON.stringify(shapes)}`);
    }
    process.stdout.write(
      `\nOrganizer dashboard under load: ${shapes.gateway.attendees} attendees, ${shapes.gateway.orders} orders, ${shapes.gateway.tickets} tickets ` +
        `(${(shapes.gateway.bytes / 1024).toFixed(0)} KB gateway, ${(shapes.raw.bytes / 1024).toFixed(0)} KB raw); ` +
        `autocannon, ${options.rounds} interleaved rounds of ${options.duration} s per peer and concurrency\n`,
    );
    // Warm both (JIT, caches, connections) before anything is counted.
    for (const target of [raw, gateway]) await load(target, 8, Math.max(2, Math.ceil(options.duration / 2)), peers.child.pid!);
    const runs = new Map<string, Run[]>();
    for (let round = 0; round < options.rounds; round++) {
      for (const connections of options.concurrencies) {
        const order = round % 2 === 0 ? (['raw', 'gateway'] as const) : (['gateway', 'raw'] as const);
        for (const peer of order) {
          const run = await load(peer === 'raw' ? raw : gateway, connections, options.duration, peers.child.pid!);
          const key = `${peer}:${connections}`;
          runs.set(key, [...(runs.get(key) ?? []), run]);
        }
      }
    }
    const summary = (key: string) => {
      const list = runs.get(key)!;
      const requests = list.reduce((sum, run) => sum + run.requests, 0);
      const seconds = list.reduce((sum, run) => sum + run.seconds, 0);
      return { rps: requests / seconds, p50: percentile(list.map((run) => run.p50), 50), p99: percentile(list.map((run) => run.p99), 50), rss: Math.max(...list.map((run) => run.rssMb)) };
    };
    const head = `${'concurrency'.padStart(11)} | ${'raw req/s'.padStart(9)} ${'p50'.padStart(6)} ${'p99'.padStart(6)} | ${'gateway req/s'.padStart(13)} ${'p50'.padStart(6)} ${'p99'.padStart(6)} ${'RSS MB'.padStart(7)} | ${'req/s ratio'.padStart(11)} ${'p50 ratio'.padStart(9)}\n`;
    process.stdout.write(head);
    for (const connections of options.concurrencies) {
      const r = summary(`raw:${connections}`);
      const g = summary(`gateway:${connections}`);
      process.stdout.write(
        `${String(connections).padStart(11)} | ${r.rps.toFixed(1).padStart(9)} ${`${r.p50}ms`.padStart(6)} ${`${r.p99}ms`.padStart(6)} | ` +
          `${g.rps.toFixed(1).padStart(13)} ${`${g.p50}ms`.padStart(6)} ${`${g.p99}ms`.padStart(6)} ${g.rss.toFixed(0).padStart(7)} | ` +
          `${(g.rps / r.rps).toFixed(2).padStart(10)}x ${(g.p50 / Math.max(r.p50, 1)).toFixed(2).padStart(8)}x\n`,
      );
    }
    process.stdout.write('Targets (issue 10, on PostgreSQL): gateway req/s at least 0.5x raw at 8 and 32 connections; p50 at 1 within 2x of raw.\n');
  } finally {
    peers.child.kill('SIGTERM');
  }
}
