import { sql, type Kysely } from 'kysely';
import type { ChainHead } from '../../audit/chains.js';
import type { Database } from '../tables.js';

/*
 * POLICY.md's retention table as SQL. Each rule has a "due" query (what would go, for the dry
 * run and for the run itself) and, where rows are deleted directly, a delete. Nothing of a person
 * under an active legal hold is ever due. Run as the owner under the maintenance scope, except
 * account erasure, which goes through the data-subject service like an erasure request.
 */

/** Active holds at `now`: placed, not lifted, not past their end date. */
const heldPeople = (now: Date) => sql`(select person_id from legal_holds
  where lifted_at is null and (until is null or until > ${now}))`;

export interface DueSummary {
  count: number;
  oldest: Date | null;
}

const summary = (row: { count: string | number; oldest: Date | null } | undefined): DueSummary => ({
  count: Number(row?.count ?? 0),
  oldest: row?.oldest ?? null,
});

/** A person's last activity: their account's dates, their orders and their usage. */
const lastActivity = sql`greatest(p.created_at, p.last_active_at,
  (select max(o.placed_at) from attendees a join orders o on o.tenant_id = a.tenant_id and o.attendee_id = a.id where a.person_id = p.id),
  (select max(u.at) from usage_events u where u.person_id = p.id))`;

/** People inactive for 3 years (account data) and not held: erased as an erasure request would. */
export async function inactiveAccounts(db: Kysely<Database>, cutoff: Date, now: Date): Promise<{ personId: string; lastActivity: Date }[]> {
  const result = await sql<{ personId: string; lastActivity: Date }>`
    select id as "personId", last_activity as "lastActivity" from (
      select p.id, ${lastActivity} as last_activity from people p
      where p.id not in ${heldPeople(now)}
    ) candidates
    where last_activity < ${cutoff}
    order by last_activity, id`.execute(db);
  return result.rows;
}

/** Orders placed before the cutoff whose person (if any is left) is not held. */
const dueOrders = (cutoff: Date, now: Date) => sql`
  select o.tenant_id, o.id, o.placed_at from orders o
  join attendees a on a.tenant_id = o.tenant_id and a.id = o.attendee_id
  where o.placed_at < ${cutoff} and (a.person_id is null or a.person_id not in ${heldPeople(now)})`;

export async function dueTransactions(db: Kysely<Database>, cutoff: Date, now: Date): Promise<DueSummary> {
  const result = await sql<{ count: string; oldest: Date | null }>`
    select count(*) as count, min(placed_at) as oldest from (${dueOrders(cutoff, now)}) due`.execute(db);
  return summary(result.rows[0]);
}

/**
 * Deletes the orders (and their tickets) 7 years after they were placed, then the attendee rows
 * an erasure left pointing at nobody once they have no order left: nothing then remains of them.
 */
/**
 * A person's activity must outlive the rows that showed it: before orders or usage go, the
 * person's last_active_at takes their latest date, so deleting old analytics never makes an
 * active account look inactive to the next run.
 */
async function keepActivity(db: Kysely<Database>, latest: ReturnType<typeof sql>): Promise<void> {
  await sql`update people p set last_active_at = l.at from (${latest}) l
    where p.id = l.person_id and (p.last_active_at is null or p.last_active_at < l.at)`.execute(db);
}

export async function deleteTransactions(db: Kysely<Database>, cutoff: Date, now: Date): Promise<number> {
  await keepActivity(
    db,
    sql`select a.person_id, max(due.placed_at) as at from (${dueOrders(cutoff, now)}) due
      join orders o on o.tenant_id = due.tenant_id and o.id = due.id
      join attendees a on a.tenant_id = o.tenant_id and a.id = o.attendee_id
      where a.person_id is not null group by a.person_id`,
  );
  await sql`delete from tickets t using (${dueOrders(cutoff, now)}) due where t.tenant_id = due.tenant_id and t.order_id = due.id`.execute(db);
  const result = await sql`delete from orders o using (${dueOrders(cutoff, now)}) due where o.tenant_id = due.tenant_id and o.id = due.id`.execute(db);
  await sql`delete from attendees a where a.person_id is null
    and not exists (select 1 from orders o where o.tenant_id = a.tenant_id and o.attendee_id = a.id)
    and not exists (select 1 from relationships r where r.tenant_id = a.tenant_id and a.id in (r.from_attendee_id, r.to_attendee_id))`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/**
 * `erasedFirst`: people the accounts rule erases before this rule runs (a dry run counts what the
 * real run will, and an erasure takes a person's usage and support cases with it).
 */
export async function dueUsage(db: Kysely<Database>, cutoff: Date, now: Date, erasedFirst: readonly string[] = []): Promise<DueSummary> {
  const result = await sql<{ count: string; oldest: Date | null }>`
    select count(*) as count, min(at) as oldest from usage_events
    where at < ${cutoff} and person_id not in ${heldPeople(now)} and person_id <> all(${[...erasedFirst]}::text[])`.execute(db);
  return summary(result.rows[0]);
}

export async function deleteUsage(db: Kysely<Database>, cutoff: Date, now: Date): Promise<number> {
  await keepActivity(
    db,
    sql`select person_id, max(at) as at from usage_events where at < ${cutoff} and person_id not in ${heldPeople(now)} group by person_id`,
  );
  const result = await sql`delete from usage_events where at < ${cutoff} and person_id not in ${heldPeople(now)}`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

/** Support cases resolved before the cutoff (open cases are kept). */
export async function dueSupport(db: Kysely<Database>, cutoff: Date, now: Date, erasedFirst: readonly string[] = []): Promise<DueSummary> {
  const result = await sql<{ count: string; oldest: Date | null }>`
    select count(*) as count, min(resolved_at) as oldest from support_cases
    where resolved_at < ${cutoff} and person_id not in ${heldPeople(now)} and person_id <> all(${[...erasedFirst]}::text[])`.execute(db);
  return summary(result.rows[0]);
}

export async function deleteSupport(db: Kysely<Database>, cutoff: Date, now: Date): Promise<number> {
  const result = await sql`delete from support_cases where resolved_at < ${cutoff} and person_id not in ${heldPeople(now)}`.execute(db);
  return Number(result.numAffectedRows ?? 0n);
}

export interface LogPartition {
  /** access_log_YYYY_MM */
  name: string;
  /** First instant of the month it holds. */
  from: Date;
  /** First instant of the next month (exclusive). */
  to: Date;
}

/** The access log's monthly partitions, oldest first (the default partition is never one). */
export async function accessLogPartitions(db: Kysely<Database>): Promise<LogPartition[]> {
  const result = await sql<{ name: string }>`
    select c.relname as name from pg_inherits i
    join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
    where p.relname = 'access_log' and c.relname ~ '^access_log_[0-9]{4}_[0-9]{2}$'
    order by c.relname`.execute(db);
  return result.rows.map(({ name }) => {
    const [year, month] = name.slice('access_log_'.length).split('_').map(Number) as [number, number];
    return { name, from: new Date(Date.UTC(year, month - 1, 1)), to: new Date(Date.UTC(year, month, 1)) };
  });
}

/** The last entry of each chain in a partition: where a cut dropping it leaves that chain. */
export async function partitionChainEnds(db: Kysely<Database>, partition: LogPartition): Promise<ChainEnd[]> {
  const result = await sql<ChainEnd>`select distinct on (chain) chain, coalesce(link, seq)::text as link, hash, seq::text as seq
    from ${sql.table(partition.name)} order by chain, coalesce(link, seq) desc`.execute(db);
  return result.rows;
}

export interface ChainEnd extends ChainHead {
  seq: string;
}

/**
 * The entries still there at or before each chain's cut: written before the last dropped entry
 * of their chain but dated into a month retention keeps. One statement whatever the number of chains.
 */
export async function keptBeforeCut(db: Kysely<Database>, heads: readonly ChainHead[]): Promise<ChainHead[]> {
  const result = await sql<ChainHead>`select a.chain, coalesce(a.link, a.seq)::text as link, a.hash
    from unnest(${heads.map((h) => h.chain)}::smallint[], ${heads.map((h) => h.link)}::bigint[]) as cut(chain, link)
    join access_log a on a.chain = cut.chain and coalesce(a.link, a.seq) <= cut.link
    order by a.chain, coalesce(a.link, a.seq)`.execute(db);
  return result.rows;
}

/** Whether a partition holds entries about a person under an active hold (then it is kept). */
export async function partitionHoldsHeldPerson(db: Kysely<Database>, partition: LogPartition, now: Date): Promise<boolean> {
  const result = await sql<{ held: boolean }>`
    select exists (select 1 from access_log_subjects s
      where s.at >= ${partition.from} and s.at < ${partition.to} and s.person_id in ${heldPeople(now)}) as held`.execute(db);
  return result.rows[0]?.held ?? false;
}

/** Drops a month of the log and of its person index, whole (no row trigger fires, nothing is rewritten). */
export async function dropPartition(db: Kysely<Database>, partition: LogPartition): Promise<void> {
  const suffix = partition.name.slice('access_log_'.length);
  await sql`drop table ${sql.table(`access_log_${suffix}`)}`.execute(db);
  await sql`drop table if exists ${sql.table(`access_log_subjects_${suffix}`)}`.execute(db);
}

/** Monthly partitions from `from`'s month to `monthsAhead` months on (idempotent); returns how many are new. */
export async function createPartitionsAhead(db: Kysely<Database>, from: Date, monthsAhead: number): Promise<number> {
  const before = (await accessLogPartitions(db)).length;
  await sql`select custodian_access_log_partition(m::date)
    from generate_series(date_trunc('month', ${from}::timestamptz at time zone 'UTC'),
      date_trunc('month', ${from}::timestamptz at time zone 'UTC') + make_interval(months => ${monthsAhead}), interval '1 month') as m`.execute(db);
  return (await accessLogPartitions(db)).length - before;
}

export interface AccessLogCut {
  /** The newest entry this cut dropped (by seq), and its hash. */
  seq: string;
  hash: string;
  at: Date;
  /** Per chain, the last entry dropped so far; null on cuts made before chains (chain 0 at seq). */
  heads: ChainHead[] | null;
  partitions: string[];
  checkpoint: string;
}

export async function recordCut(db: Kysely<Database>, cut: Omit<AccessLogCut, 'at'>): Promise<void> {
  await sql`insert into access_log_cuts (seq, hash, heads, partitions, checkpoint)
    values (${cut.seq}::bigint, ${cut.hash}, ${cut.heads === null ? null : JSON.stringify(cut.heads)}::jsonb, ${cut.partitions}::text[], ${cut.checkpoint})`.execute(db);
}

/** The latest cut: the chains are verified from it. */
export async function latestCut(db: Kysely<Database>): Promise<AccessLogCut | undefined> {
  const result = await sql<AccessLogCut>`select seq::text as seq, hash, at, heads, partitions, checkpoint
    from access_log_cuts order by at desc, seq desc limit 1`.execute(db);
  return result.rows[0];
}
