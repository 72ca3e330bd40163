import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CompactSign, importJWK } from 'jose';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAINS } from '../src/audit/chains.js';
import { readCheckpoint } from '../src/audit/checkpoint.js';
import type { AccessLogContent } from '../src/audit/entry-hash.js';
import { verifyChain } from '../src/audit/verify-chain.js';
import { loadOrCreateDevKeys } from '../src/auth/dev-keys.js';
import { loadConfig } from '../src/config.js';
import type { DatabaseHandle } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { appendAccessLog, chainHeads, chainPage, type AccessLogRow } from '../src/db/queries/access-log.js';
import { beginScopedTransaction, commitOrRelease, withScope, type ScopedTransaction } from '../src/db/request-scope.js';
import type { Database } from '../src/db/tables.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';

/*
 * The access log's chains (migration 0010): writers do not wait for each other while a chain is
 * free, every chain verifies, and a log written before chains still verifies after the upgrade.
 * Tampering inside a chain is covered in access-log-integrity.test.ts.
 */

const entry = (requestId: string): AccessLogContent => ({
  at: new Date(),
  actor: 'chains-test',
  role: 'security_analyst',
  tenantId: null,
  purpose: 'security-audit',
  operationName: 'ChainsTest',
  requestId,
  tokenId: null,
  clientAddress: null,
  subjects: ['per-chains-1', 'per-chains-2'],
  fields: ['Person.name'],
  masked: [],
  exposure: { 'per-chains-1': ['user.profile.name'], 'per-chains-2': ['user.profile.name'] },
  outcome: 'ALLOWED',
  errorCode: null,
  correlationId: null,
  maskedBySubject: {},
  aggregates: [],
});

/** A request's transaction on the application role, as the gateway opens it. */
const requestTransaction = (db: Kysely<Database>): Promise<ScopedTransaction> => beginScopedTransaction(db, { kind: 'platform' }, 'security-audit');

const asOwner = <T>(database: TestDatabase, work: (trx: ScopedTransaction) => Promise<T>): Promise<T> =>
  withScope(database.owner.db, { kind: 'maintenance' }, work);

const entriesOf = (database: TestDatabase): Promise<AccessLogRow[]> => asOwner(database, (trx) => chainPage(trx, { chain: -1, link: '0' }, 100_000));

describe.each(DATABASE_KINDS)('the access log chains (%s)', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind, { seed: false });
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('starts with every chain at its own genesis, chain 0 at the original one', async () => {
    const heads = await asOwner(database, chainHeads);
    expect(heads).toHaveLength(CHAINS);
    expect(heads[0]).toEqual({ chain: 0, link: '0', hash: '0'.repeat(64) });
    expect(new Set(heads.map((h) => h.hash)).size).toBe(CHAINS);
    const report = await verifyChain(database.owner.db);
    expect(report).toMatchObject({ entries: 0, chains: CHAINS, problem: undefined });
  });

  it.runIf(kind === 'postgres')("a writer does not wait for another writer's open transaction", async () => {
    const [a, b] = [await database.openApp(1), await database.openApp(1)];
    const trxA = await requestTransaction(a.db);
    await appendAccessLog(trxA, entry('open-a'));
    const chainA = (await sql<{ chain: number }>`select chain from access_log where request_id = 'open-a'`.execute(trxA)).rows[0]!.chain;
    try {
      // B gives up at once if it has to wait for a lock: under one global head it would.
      const trxB = await requestTransaction(b.db);
      await sql`set local lock_timeout = '50ms'`.execute(trxB);
      await appendAccessLog(trxB, entry('open-b'));
      await commitOrRelease(trxB);
      // The control: A really holds its chain, and waiting for it is refused the same way.
      await expect(
        asOwner(database, async (trx) => {
          await sql`set local lock_timeout = '50ms'`.execute(trx);
          await sql`select link from access_log_chains where chain = ${chainA}::smallint for update`.execute(trx);
        }),
      ).rejects.toThrow(/lock timeout/);
    } finally {
      await commitOrRelease(trxA);
    }
    const rows = (await entriesOf(database)).filter((e) => e.requestId.startsWith('open-'));
    expect(rows.map((e) => e.requestId).sort()).toEqual(['open-a', 'open-b']);
    expect(rows.find((e) => e.requestId === 'open-b')!.chain).not.toBe(chainA);
    expect((await verifyChain(database.owner.db)).problem).toBeUndefined();
  });

  it.runIf(kind === 'postgres')('forty writers holding their transactions open at once each get a chain of their own', async () => {
    const writers = 40;
    const pool = await database.openApp(writers);
    let inserted = 0;
    let allInserted!: () => void;
    const barrier = new Promise<void>((resolve) => (allInserted = resolve));
    const results = await Promise.allSettled(
      Array.from({ length: writers }, async (_, i) => {
        const trx = await requestTransaction(pool.db);
        try {
          // Waiting for a lock would fail the writer instead of hanging the test.
          await sql`set local lock_timeout = '5s'`.execute(trx);
          await appendAccessLog(trx, entry(`many-${i}`));
        } catch (error) {
          allInserted();
          await trx.rollback().execute().catch(() => undefined);
          throw error;
        }
        inserted += 1;
        if (inserted === writers) allInserted();
        // Every writer still holds its chain when the last one inserts.
        await barrier;
        await commitOrRelease(trx);
      }),
    );
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const rows = (await entriesOf(database)).filter((e) => e.requestId.startsWith('many-'));
    expect(rows).toHaveLength(writers);
    expect(new Set(rows.map((e) => e.chain)).size).toBe(writers);
    const report = await verifyChain(database.owner.db);
    expect(report.problem).toBeUndefined();
    expect(report.heads.filter((h) => h.link !== '0').length).toBeGreaterThanOrEqual(writers);
  });

  it.runIf(kind === 'postgres')('when every chain is held, a writer waits for its own chain and then links to it', async () => {
    const holder = await database.owner.db.startTransaction().execute();
    let writer: DatabaseHandle | undefined;
    try {
      await sql`select set_config('app.scope', 'maintenance', true)`.execute(holder);
      await sql`select chain from access_log_chains for update`.execute(holder);
      writer = await database.openApp(1);
      const trx = await requestTransaction(writer.db);
      const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx)).rows[0]!.pid;
      const appended = appendAccessLog(trx, entry('waiting')).then(() => commitOrRelease(trx));
      // It is waiting on a row lock (polled, not timed), not failing.
      for (;;) {
        const waiting = await sql<{ waiting: boolean }>`select wait_event_type = 'Lock' as waiting from pg_stat_activity where pid = ${pid}`.execute(database.owner.db);
        if (waiting.rows[0]?.waiting === true) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await holder.commit().execute();
      await appended;
      const row = (await entriesOf(database)).find((e) => e.requestId === 'waiting')!;
      expect(row.chain).toBe(pid % CHAINS);
    } finally {
      await holder.rollback().execute().catch(() => undefined);
    }
    expect((await verifyChain(database.owner.db)).problem).toBeUndefined();
  });
});

describe.each(DATABASE_KINDS)('a log written before chains, after the upgrade (%s)', (kind) => {
  let database: TestDatabase;
  let dataDir: string;
  let legacyHead: { seq: string; hash: string };
  let legacyCheckpoint: string;

  beforeAll(async () => {
    database = await createTestDatabase(kind, { migratedUpTo: '0009-rate-limits' });
    // Five entries chained by 0004's trigger, under its one head.
    for (let i = 1; i <= 5; i += 1) await asOwner(database, (trx) => appendAccessLog(trx, entry(`legacy-${i}`)));
    legacyHead = await asOwner(database, async (trx) =>
      (await sql<{ seq: string; hash: string }>`select seq::text as seq, hash from access_log_head`.execute(trx)).rows[0]!,
    );
    // A checkpoint signed then, in the format of then.
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-legacy-checkpoint-'));
    const { privateJwk } = await loadOrCreateDevKeys(dataDir, 'audit-checkpoint-keys');
    const payload = { typ: 'custodian-access-log-checkpoint', seq: legacyHead.seq, hash: legacyHead.hash, at: new Date().toISOString() };
    legacyCheckpoint = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'ES256', ...(privateJwk.kid === undefined ? {} : { kid: privateJwk.kid }) })
      .sign(await importJWK(privateJwk, 'ES256'));
    await migrateToLatest(database.owner.db);
  });
  afterAll(async () => {
    await database?.destroy();
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('reads the old entries as chain 0, link = seq, and chain 0 takes over the old head', async () => {
    expect(legacyHead.seq).toBe('5');
    const rows = await entriesOf(database);
    expect(rows.map((e) => [e.chain, e.link, e.seq])).toEqual([1, 2, 3, 4, 5].map((n) => [0, String(n), String(n)]));
    expect((await asOwner(database, chainHeads))[0]).toEqual({ chain: 0, link: '5', hash: legacyHead.hash });
    const tables = await sql<{ n: string }>`select count(*) as n from pg_class where relname = 'access_log_head'`.execute(database.owner.db);
    expect(Number(tables.rows[0]!.n)).toBe(0);
  });

  it('goes on: new entries chain on, seq stays unique, and the whole log verifies against the old checkpoint', async () => {
    const config = loadConfig({ DATA_DIR: dataDir });
    const checkpoint = await readCheckpoint(config, legacyCheckpoint, {});
    expect(checkpoint.heads).toEqual([{ chain: 0, link: '5', hash: legacyHead.hash }]);
    for (let i = 1; i <= 3; i += 1) {
      const trx = await requestTransaction(database.app.db);
      await appendAccessLog(trx, entry(`new-${i}`));
      await commitOrRelease(trx);
    }
    if (kind === 'postgres') {
      // Chain 0 itself continues the old chain: with every other chain held, a writer takes it.
      const holder = await database.owner.db.startTransaction().execute();
      try {
        await sql`select chain from access_log_chains where chain <> 0 for update`.execute(holder);
        const trx = await requestTransaction(database.app.db);
        await appendAccessLog(trx, entry('new-chain-0'));
        await commitOrRelease(trx);
      } finally {
        await holder.rollback().execute();
      }
      const continued = (await entriesOf(database)).find((e) => e.requestId === 'new-chain-0')!;
      expect(continued).toMatchObject({ chain: 0, link: '6', prevHash: legacyHead.hash });
    }
    const rows = await entriesOf(database);
    expect(new Set(rows.map((e) => e.seq)).size).toBe(rows.length);
    expect(Math.min(...rows.filter((e) => e.requestId.startsWith('new-')).map((e) => Number(e.seq)))).toBeGreaterThan(5);
    const report = await verifyChain(database.owner.db, checkpoint);
    expect(report.problem).toBeUndefined();
    expect(report.entries).toBe(rows.length);
  });

  it('names an old entry that was edited by chain 0 and its seq', async () => {
    await asOwner(database, async (trx) => {
      await sql`alter table access_log disable trigger access_log_append_only`.execute(trx);
      await sql`update access_log set actor = 'someone-else' where seq = 3`.execute(trx);
      await sql`alter table access_log enable trigger access_log_append_only`.execute(trx);
    });
    const report = await verifyChain(database.owner.db);
    expect(report.problem).toMatchObject({ kind: 'EDITED', chain: 0, link: '3', seq: '3' });
  });
});
