import os from 'node:os';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import type { DatabaseHandle } from '../db/database.js';
import { lastRetentionRunAt } from '../db/queries/retention-runs.js';
import { withScope } from '../db/request-scope.js';
import type { Logger } from '../logger.js';
import { runRetention, type RetentionOptions, type RetentionReport } from './retention.js';

/** The advisory lock every retention runner takes (an arbitrary constant of this project). */
export const RETENTION_LOCK_KEY = 727_367_400_012n;

export type RetentionOutcome =
  | { status: 'ran'; report: RetentionReport }
  /** Another process (a gateway or the CLI) is running retention now. */
  | { status: 'busy' }
  /** Some runner already ran since `since`: this interval's run is done. */
  | { status: 'recent'; lastRunAt: Date };

/**
 * Runs retention unless another runner holds the lock. On PostgreSQL, a session advisory lock on
 * one pooled connection elects the runner among every gateway process and the CLI (the work runs
 * on the pool's other connections); the embedded database admits one process, so there is no one
 * to elect. With `skipIfRunSince`, the elected runner skips when any runner already ran since
 * then, so several gateways on one schedule run it once per interval.
 */
export async function runRetentionExclusively(
  owner: DatabaseHandle,
  options: RetentionOptions,
  skipIfRunSince?: Date,
): Promise<RetentionOutcome> {
  const run = async (): Promise<RetentionOutcome> => {
    if (skipIfRunSince !== undefined) {
      const last = await withScope(owner.db, { kind: 'maintenance' }, (trx) => lastRetentionRunAt(trx));
      if (last !== undefined && last.getTime() >= skipIfRunSince.getTime()) return { status: 'recent', lastRunAt: last };
    }
    return { status: 'ran', report: await runRetention(owner.db, options) };
  };
  if (owner.kind === 'pglite') return run();
  return owner.db.connection().execute(async (connection) => {
    const { locked } = (await sql<{ locked: boolean }>`select pg_try_advisory_lock(${RETENTION_LOCK_KEY}::bigint) as locked`.execute(connection)).rows[0]!;
    if (!locked) return { status: 'busy' };
    try {
      return await run();
    } finally {
      await sql`select pg_advisory_unlock(${RETENTION_LOCK_KEY}::bigint)`.execute(connection).catch(() => undefined);
    }
  });
}

export interface RetentionScheduler {
  /** One tick, as the timer runs it (exposed so tests drive it without waiting). */
  tick(): Promise<RetentionOutcome | undefined>;
  stop(): Promise<void>;
}

/**
 * RETENTION_INTERVAL: every interval (and once at start), each gateway process tries to run
 * retention; one is elected by the advisory lock, and it skips if a run already happened in the
 * last 90% of an interval. Failures are logged (class and code only) and retried next tick.
 */
export function startRetentionScheduler(options: {
  owner: DatabaseHandle;
  intervalMs: number;
  config: Config;
  logger: Logger;
  /** Don't start the timer (tests call tick()). */
  manual?: boolean;
}): RetentionScheduler {
  const runner = `scheduler:${os.hostname()}:${process.pid}`;
  let running: Promise<RetentionOutcome | undefined> | undefined;
  const tick = (): Promise<RetentionOutcome | undefined> => {
    running ??= (async () => {
      try {
        const since = new Date(Date.now() - options.intervalMs * 0.9);
        const outcome = await runRetentionExclusively(options.owner, { now: new Date(), dryRun: false, runner, config: options.config }, since);
        if (outcome.status === 'ran') options.logger.info('retention.ran', { ...outcome.report.counts, runId: outcome.report.runId });
        else options.logger.info('retention.skipped', { reason: outcome.status });
        return outcome;
      } catch (error) {
        options.logger.error('retention.failed', error);
        return undefined;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = options.manual ? undefined : setInterval(() => void tick(), options.intervalMs);
  timer?.unref();
  const first = options.manual ? undefined : setTimeout(() => void tick(), 0);
  first?.unref();
  return {
    tick,
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      if (first !== undefined) clearTimeout(first);
      await running;
    },
  };
}
