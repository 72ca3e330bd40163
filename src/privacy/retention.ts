import type { Kysely } from 'kysely';
import { signCheckpoint } from '../audit/checkpoint.js';
import { canonicalHeads, position, type ChainHead } from '../audit/chains.js';
import { cutHeads, verifyAccessLog } from '../audit/verify-from-cut.js';
import type { Config } from '../config.js';
import { erasureOf } from '../db/queries/data-subject-requests.js';
import * as rules from '../db/queries/retention.js';
import { recordRetentionRun, type RetentionCounts } from '../db/queries/retention-runs.js';
import { beginScopedTransaction, commitOrRelease, withScope } from '../db/request-scope.js';
import type { Database } from '../db/tables.js';
import { erasuresNoLongerHeld } from '../db/queries/legal-holds.js';
import { erase } from './data-subject-service.js';
import { RetentionError } from './retention-error.js';

export { RetentionError };

/** POLICY.md "Retention": how long each kind of data is kept. */
export const RETENTION_PERIODS = {
  accounts: { years: 3, months: 0 },
  transactions: { years: 7, months: 0 },
  usage: { years: 0, months: 26 },
  support: { years: 2, months: 0 },
  accessLogPartitions: { years: 7, months: 0 },
} as const satisfies Record<keyof RetentionCounts, { years: number; months: number }>;

export type RetentionRule = keyof RetentionCounts;
export const RETENTION_RULES = Object.keys(RETENTION_PERIODS) as RetentionRule[];

/** Access-log partitions kept ready ahead of the current month. */
export const PARTITION_MONTHS_AHEAD = 12;

/** Who retention's erasures are recorded as. */
export const RETENTION_REQUESTER = { subject: 'custodian-retention', role: 'retention' } as const;

/** `now` less a period, in calendar terms (UTC). */
export function cutoffOf(now: Date, period: { years: number; months: number }): Date {
  const cutoff = new Date(now.getTime());
  cutoff.setUTCMonth(cutoff.getUTCMonth() - period.months);
  cutoff.setUTCFullYear(cutoff.getUTCFullYear() - period.years);
  return cutoff;
}

export interface RetentionReport {
  now: Date;
  dryRun: boolean;
  counts: RetentionCounts;
  /** Per rule: the oldest date among what goes (what would go, in a dry run). */
  oldest: Record<RetentionRule, Date | null>;
  /** Per rule: anything before this date goes. */
  cutoffs: Record<RetentionRule, Date>;
  /** Partitions created ahead (0 in a dry run). */
  partitionsCreated: number;
  /** Partitions old enough to drop but kept: they hold entries about a person under legal hold. */
  partitionsKeptForHolds: string[];
  /** The recorded run (real runs only). */
  runId: string | null;
}

export interface RetentionOptions {
  now: Date;
  dryRun: boolean;
  /** Who ran it, for the record: `cli` or `scheduler:<host/pid>`. */
  runner: string;
  /** For signing the checkpoint at an access-log cut. */
  config: Config;
  env?: NodeJS.ProcessEnv;
}

/**
 * Applies every row of POLICY.md's retention table as of `now`, as the owner (`db` must be the
 * owner's connection: partitions are dropped, transactions deleted). A person under an active
 * legal hold keeps everything. Accounts go through the data-subject service's erasure, exactly as
 * an erasure request does, one person per transaction. A dry run reads and changes nothing.
 */
export async function runRetention(db: Kysely<Database>, options: RetentionOptions): Promise<RetentionReport> {
  const { now, dryRun } = options;
  const cutoffs = Object.fromEntries(RETENTION_RULES.map((rule) => [rule, cutoffOf(now, RETENTION_PERIODS[rule])])) as Record<RetentionRule, Date>;
  const counts: RetentionCounts = { accounts: 0, transactions: 0, usage: 0, support: 0, accessLogPartitions: 0 };
  const oldest = { accounts: null, transactions: null, usage: null, support: null, accessLogPartitions: null } as Record<RetentionRule, Date | null>;

  // Accounts first: an erased person's orders then fall under the transactions rule like anyone's.
  // Erasure requests that waited for a hold which has since ended are carried out with them.
  const [inactive, unheld] = await withScope(db, { kind: 'maintenance' }, async (trx) => [
    await rules.inactiveAccounts(trx, cutoffs.accounts, now),
    await erasuresNoLongerHeld(trx, now),
  ] as const);
  const accounts = [...new Set([...unheld, ...inactive.map((p) => p.personId)])];
  counts.accounts = accounts.length;
  oldest.accounts = inactive[0]?.lastActivity ?? null;
  if (!dryRun) {
    for (const personId of accounts) await eraseForRetention(db, personId);
  }

  await withScope(db, { kind: 'maintenance' }, async (trx) => {
    const due = {
      transactions: await rules.dueTransactions(trx, cutoffs.transactions, now),
      usage: await rules.dueUsage(trx, cutoffs.usage, now, dryRun ? accounts : []),
      support: await rules.dueSupport(trx, cutoffs.support, now, dryRun ? accounts : []),
    };
    for (const rule of ['transactions', 'usage', 'support'] as const) {
      counts[rule] = due[rule].count;
      oldest[rule] = due[rule].oldest;
    }
    if (dryRun) return;
    counts.transactions = await rules.deleteTransactions(trx, cutoffs.transactions, now);
    counts.usage = await rules.deleteUsage(trx, cutoffs.usage, now);
    counts.support = await rules.deleteSupport(trx, cutoffs.support, now);
  });

  const partitions = await duePartitions(db, cutoffs.accessLogPartitions, now);
  counts.accessLogPartitions = partitions.drop.length;
  oldest.accessLogPartitions = partitions.drop[0]?.from ?? null;
  let partitionsCreated = 0;
  let runId: string | null = null;
  if (!dryRun) {
    if (partitions.drop.length > 0) await cutAccessLog(db, partitions.drop, options);
    // From this month (or `now`'s, if later) on, so the log never falls into its default partition.
    const from = now.getTime() > Date.now() ? now : new Date();
    partitionsCreated = await withScope(db, { kind: 'maintenance' }, (trx) => rules.createPartitionsAhead(trx, from, PARTITION_MONTHS_AHEAD));
    runId = await withScope(db, { kind: 'maintenance' }, (trx) => recordRetentionRun(trx, { appliedAt: now, runner: options.runner, counts }));
  }
  return { now, dryRun, counts, oldest, cutoffs, partitionsCreated, partitionsKeptForHolds: partitions.keptForHolds, runId };
}

/**
 * The same erasure as `requestErasure`, in a transaction of the same kind (custodian_app, the
 * platform scope, the legal-compliance purpose), recorded as kind RETENTION; a person who had
 * filed an erasure request that is still open has that request carried out instead.
 */
async function eraseForRetention(db: Kysely<Database>, personId: string): Promise<void> {
  const trx = await beginScopedTransaction(db, { kind: 'platform' }, 'legal-compliance');
  try {
    const filed = await erasureOf(trx, personId);
    await erase(trx, RETENTION_REQUESTER, personId, filed !== undefined && filed.completedAt === null ? 'ERASURE' : 'RETENTION');
  } catch (error) {
    await trx.rollback().execute().catch(() => undefined);
    throw error;
  }
  await commitOrRelease(trx);
}

/**
 * Whole months older than 7 years, oldest first, up to the first one that holds an entry about a
 * person under legal hold: the log is only ever cut at one point, so what remains is one chain.
 */
async function duePartitions(db: Kysely<Database>, cutoff: Date, now: Date): Promise<{ drop: rules.LogPartition[]; keptForHolds: string[] }> {
  return withScope(db, { kind: 'maintenance' }, async (trx) => {
    const old = (await rules.accessLogPartitions(trx)).filter((p) => p.to.getTime() <= cutoff.getTime());
    const drop: rules.LogPartition[] = [];
    const keptForHolds: string[] = [];
    for (const partition of old) {
      if (keptForHolds.length > 0 || (await rules.partitionHoldsHeldPerson(trx, partition, now))) keptForHolds.push(partition.name);
      else drop.push(partition);
    }
    return { drop, keptForHolds };
  });
}

/**
 * Drops whole months of the access log. First the chains are verified (what is about to go is the
 * only copy of the evidence that they were intact); then, in one transaction, the partitions are
 * dropped and the cut is signed and recorded: for each chain the last entry dropped, and the
 * entries at or before it that stay (dated into a kept month). `audit:verify` then verifies what
 * remains from that checkpoint.
 */
async function cutAccessLog(db: Kysely<Database>, partitions: readonly rules.LogPartition[], options: RetentionOptions): Promise<void> {
  const report = await verifyAccessLog(db, options.config, undefined, options.env);
  if (report.problem !== undefined) {
    throw new RetentionError(
      `The access log does not verify (${position(report.problem.chain, report.problem.link, report.problem.seq)}, ${report.problem.kind}); no partition was dropped. Investigate with npm run audit:verify.`,
    );
  }
  await withScope(db, { kind: 'maintenance' }, async (trx) => {
    // Per chain, the last entry dropped: by this run, or by an earlier cut if this run drops none of it.
    const previous = await rules.latestCut(trx);
    const heads = new Map<number, ChainHead>(previous === undefined ? [] : cutHeads(previous).map((head) => [head.chain, head]));
    let newest: rules.ChainEnd | undefined;
    for (const partition of partitions) {
      for (const end of await rules.partitionChainEnds(trx, partition)) {
        const known = heads.get(end.chain);
        if (known !== undefined && BigInt(end.link) <= BigInt(known.link)) continue;
        heads.set(end.chain, { chain: end.chain, link: end.link, hash: end.hash });
        if (newest === undefined || BigInt(end.seq) > BigInt(newest.seq)) newest = end;
      }
    }
    for (const partition of partitions) await rules.dropPartition(trx, partition);
    if (newest !== undefined) {
      const cutAt = canonicalHeads([...heads.values()]);
      const kept = await rules.keptBeforeCut(trx, cutAt);
      const checkpoint = await signCheckpoint(options.config, cutAt, options.env, kept);
      await rules.recordCut(trx, { seq: newest.seq, hash: newest.hash, heads: cutAt, partitions: partitions.map((p) => p.name), checkpoint });
    }
  });
}
