import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseInterval } from '../src/config.js';
import { startGateway } from '../src/bootstrap.js';
import { ConfigurationError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { RETENTION_LOCK_KEY, runRetentionExclusively, startRetentionScheduler } from '../src/privacy/retention-scheduler.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';

const config = () => loadConfig({ DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-scheduler-')) });

describe('RETENTION_INTERVAL', () => {
  it('takes durations from a minute to 24 days, and refuses anything else', () => {
    expect(parseInterval(undefined)).toBeUndefined();
    expect(parseInterval('30m')).toBe(30 * 60_000);
    expect(parseInterval('6h')).toBe(6 * 3_600_000);
    expect(parseInterval('1d')).toBe(86_400_000);
    for (const bad of ['0m', '30s', '25d', '1 h', 'daily', '-1h', '1.5h']) expect(() => parseInterval(bad), bad).toThrow(ConfigurationError);
    expect(loadConfig({ RETENTION_INTERVAL: '12h' }).retentionIntervalMs).toBe(12 * 3_600_000);
    expect(loadConfig({}).retentionIntervalMs).toBeUndefined();
  });
});

describe.each(DATABASE_KINDS)('one retention runner per interval (%s)', (kind) => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await database?.destroy();
  });

  it('a tick runs retention; the next tick within the interval skips, as does any other process', async () => {
    const cfg = config();
    const first = startRetentionScheduler({ owner: database.owner, intervalMs: 3_600_000, config: cfg, logger: silentLogger, manual: true });
    const second = startRetentionScheduler({ owner: database.owner, intervalMs: 3_600_000, config: cfg, logger: silentLogger, manual: true });
    try {
      const ran = await first.tick();
      expect(ran?.status).toBe('ran');
      expect((await second.tick())?.status).toBe('recent');
      expect((await first.tick())?.status).toBe('recent');
      // One run recorded, by the elected scheduler.
      const runs = await sql<{ runner: string }>`select runner from retention_runs`.execute(database.owner.db);
      expect(runs.rows).toEqual([{ runner: expect.stringMatching(/^scheduler:/) }]);
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  it.runIf(kind === 'postgres')('the gateway runs retention as the owner: it refuses RETENTION_INTERVAL without the owner connection', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-scheduler-'));
    const base = { DATA_DIR: dataDir, PORT: '0', DATABASE_URL: database.appUrl, RETENTION_INTERVAL: '1h' };
    await expect(startGateway(loadConfig({ ...base, MIGRATE_DATABASE_URL: database.appUrl }), silentLogger)).rejects.toThrow(/MIGRATE_DATABASE_URL/);
    const gateway = await startGateway(loadConfig({ ...base, MIGRATE_DATABASE_URL: database.ownerUrl }), silentLogger);
    await gateway.close();
  });

  it.runIf(kind === 'postgres')('while another process holds the lock, a runner is not elected and changes nothing', async () => {
    const other = new pg.Client({ connectionString: database.ownerUrl });
    await other.connect();
    try {
      await other.query('select pg_advisory_lock($1::bigint)', [RETENTION_LOCK_KEY.toString()]);
      const outcome = await runRetentionExclusively(database.owner, { now: new Date('2040-01-01T00:00:00Z'), dryRun: false, runner: 'test', config: config() });
      expect(outcome.status).toBe('busy');
      await other.query('select pg_advisory_unlock($1::bigint)', [RETENTION_LOCK_KEY.toString()]);
      const elected = await runRetentionExclusively(database.owner, { now: new Date(), dryRun: true, runner: 'test', config: config() });
      expect(elected.status).toBe('ran');
    } finally {
      await other.end();
    }
  });
});
