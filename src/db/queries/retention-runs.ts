import { sql, type Kysely } from 'kysely';
import type { Database } from '../tables.js';

/** CONTRACT.md's RetentionCounts: what one run removed, per rule. */
export interface RetentionCounts {
  accounts: number;
  transactions: number;
  usage: number;
  support: number;
  accessLogPartitions: number;
}

export interface RetentionRunRow {
  id: string;
  at: Date;
  /** The instant the run applied the periods from (`--now`, or the clock). */
  appliedAt: Date;
  runner: string;
  counts: RetentionCounts;
}

export async function recordRetentionRun(
  db: Kysely<Database>,
  run: { appliedAt: Date; runner: string; counts: RetentionCounts },
): Promise<string> {
  // `at` in milliseconds, the precision cursors carry.
  const result = await sql<{ id: string }>`insert into retention_runs (at, applied_at, runner, counts)
    values (${new Date()}, ${run.appliedAt}, ${run.runner}, ${JSON.stringify(run.counts)}::jsonb) returning id`.execute(db);
  return result.rows[0]!.id;
}

export type RetentionRunCursor = readonly [at: string, id: string];

/** Newest first; RLS lets a privacy officer (legal-compliance) read them. */
export async function listRetentionRuns(db: Kysely<Database>, page: { limit: number; before: RetentionRunCursor | undefined }): Promise<RetentionRunRow[]> {
  const position = page.before === undefined ? sql`true` : sql`(at, id) < (${new Date(page.before[0])}::timestamptz, ${page.before[1]}::uuid)`;
  const result = await sql<RetentionRunRow>`select id, at, applied_at as "appliedAt", runner, counts from retention_runs
    where ${position} order by at desc, id desc limit ${page.limit}`.execute(db);
  return result.rows;
}

/** When the last run happened (any runner), for the scheduler's one-run-per-interval rule. */
export async function lastRetentionRunAt(db: Kysely<Database>): Promise<Date | undefined> {
  const result = await sql<{ at: Date | null }>`select max(at) as at from retention_runs`.execute(db);
  return result.rows[0]?.at ?? undefined;
}
