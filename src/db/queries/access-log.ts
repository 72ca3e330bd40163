import { sql, type Kysely } from 'kysely';
import { contentHash, type AccessLogContent, type Outcome } from '../../audit/entry-hash.js';
import type { ChainHead } from '../../audit/chains.js';
import type { Database } from '../tables.js';

export interface AccessLogRow extends AccessLogContent {
  seq: string;
  /** Which of the log's chains the entry is in, and its position there (migration 0010). */
  chain: number;
  link: string;
  contentHash: string;
  /** Null in a per-person view (src/audit/person-view.ts). */
  prevHash: string | null;
  hash: string;
}

/** Appends one entry; the database assigns seq, picks a chain and links it (see migration 0010). */
export async function appendAccessLog(db: Kysely<Database>, content: AccessLogContent): Promise<void> {
  await db
    .insertInto('access_log')
    .values({
      at: content.at,
      actor: content.actor,
      role: content.role,
      tenant_id: content.tenantId,
      purpose: content.purpose,
      operation_name: content.operationName,
      request_id: content.requestId,
      token_id: content.tokenId,
      client_address: content.clientAddress,
      subjects: [...content.subjects],
      fields: [...content.fields],
      masked: [...content.masked],
      exposure: JSON.stringify(content.exposure),
      outcome: content.outcome,
      error_code: content.errorCode,
      correlation_id: content.correlationId,
      masked_by_subject: JSON.stringify(content.maskedBySubject),
      aggregates: [...content.aggregates],
      content_hash: contentHash(content),
    })
    .execute();
}

function selectEntries(db: Kysely<Database>) {
  return db
    .selectFrom('access_log')
    .select([
      sql<string>`access_log.seq::text`.as('seq'),
      'access_log.chain as chain',
      // Entries from before chains (0010) are chain 0 with link = seq.
      sql<string>`coalesce(access_log.link, access_log.seq)::text`.as('link'),
      'access_log.at as at',
      'access_log.actor as actor',
      'access_log.role as role',
      'access_log.tenant_id as tenantId',
      'access_log.purpose as purpose',
      'access_log.operation_name as operationName',
      'access_log.request_id as requestId',
      'access_log.token_id as tokenId',
      'access_log.client_address as clientAddress',
      'access_log.subjects as subjects',
      'access_log.fields as fields',
      'access_log.masked as masked',
      'access_log.exposure as exposure',
      'access_log.outcome as outcome',
      'access_log.error_code as errorCode',
      'access_log.correlation_id as correlationId',
      'access_log.masked_by_subject as maskedBySubject',
      'access_log.aggregates as aggregates',
      'access_log.content_hash as contentHash',
      'access_log.prev_hash as prevHash',
      'access_log.hash as hash',
    ])
    .$castTo<AccessLogRow>();
}

export interface AccessLogFilter {
  subjectId?: string | undefined;
  actor?: string | undefined;
  tenantId?: string | undefined;
  purpose?: string | undefined;
  tokenId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  outcome?: Outcome | undefined;
}

function filtered(db: Kysely<Database>, filter: AccessLogFilter) {
  let query = selectEntries(db);
  if (filter.subjectId !== undefined) query = query.where(sql<boolean>`access_log.subjects @> array[${filter.subjectId}]::text[]`);
  if (filter.actor !== undefined) query = query.where('access_log.actor', '=', filter.actor);
  if (filter.tenantId !== undefined) query = query.where('access_log.tenant_id', '=', filter.tenantId);
  if (filter.purpose !== undefined) query = query.where('access_log.purpose', '=', filter.purpose);
  if (filter.tokenId !== undefined) query = query.where('access_log.token_id', '=', filter.tokenId);
  if (filter.from !== undefined) query = query.where('access_log.at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('access_log.at', '<', filter.to);
  if (filter.outcome !== undefined) query = query.where('access_log.outcome', '=', filter.outcome);
  return query;
}

/**
 * Newest first; the cursor is (at, seq). RLS decides who may read which entries.
 *
 * A person's history goes through access_log_subjects (person, at, seq): a btree on a leakproof
 * equality, which the planner may use behind the review policies, newest first without a sort.
 * Array containment on access_log.subjects cannot be pushed under RLS and would scan every
 * partition.
 */
export async function listAccessLog(
  db: Kysely<Database>,
  filter: AccessLogFilter,
  page: { limit: number; before: readonly [at: string, seq: string] | undefined },
): Promise<AccessLogRow[]> {
  const position = (at: string, seq: string) => sql<boolean>`(${sql.ref(at)}, ${sql.ref(seq)}) < (${new Date(page.before![0])}::timestamptz, ${page.before![1]}::bigint)`;
  if (filter.subjectId !== undefined) {
    const { subjectId, ...others } = filter;
    if (Object.values(others).every((value) => value === undefined)) {
      // The person's newest positions straight off the index, then each entry by primary key.
      let hits = db
        .selectFrom('access_log_subjects')
        .select(['at', 'seq'])
        .where('person_id', '=', subjectId)
        .orderBy('at', 'desc')
        .orderBy('seq', 'desc')
        .limit(page.limit);
      if (page.before !== undefined) hits = hits.where(position('at', 'seq'));
      return selectEntries(db)
        .innerJoin(hits.as('h'), (join) => join.onRef('h.at', '=', 'access_log.at').onRef('h.seq', '=', 'access_log.seq'))
        .orderBy('access_log.at', 'desc')
        .orderBy('access_log.seq', 'desc')
        .execute();
    }
    let query = filtered(db, others)
      .innerJoin('access_log_subjects as s', (join) => join.onRef('s.at', '=', 'access_log.at').onRef('s.seq', '=', 'access_log.seq'))
      .where('s.person_id', '=', subjectId);
    if (page.before !== undefined) query = query.where(position('s.at', 's.seq'));
    return query.orderBy('s.at', 'desc').orderBy('s.seq', 'desc').limit(page.limit).execute();
  }
  let query = filtered(db, filter);
  if (page.before !== undefined) query = query.where(position('access_log.at', 'access_log.seq'));
  return query.orderBy('access_log.at', 'desc').orderBy('access_log.seq', 'desc').limit(page.limit).execute();
}

/** Every entry matching the filter (breach scoping over a bounded window). */
export async function allAccessLog(db: Kysely<Database>, filter: AccessLogFilter): Promise<AccessLogRow[]> {
  return filtered(db, filter).orderBy('access_log.seq').execute();
}

/**
 * Every chain in order, a page at a time, after the position `after` (for verification, as the
 * owner): keyset pagination on the (chain, link) index, the same statement whatever the size.
 */
export async function chainPage(db: Kysely<Database>, after: { chain: number; link: string }, limit: number): Promise<AccessLogRow[]> {
  return selectEntries(db)
    .where(sql<boolean>`(access_log.chain, coalesce(access_log.link, access_log.seq)) > (${after.chain}::smallint, ${after.link}::bigint)`)
    .orderBy(sql`access_log.chain`)
    .orderBy(sql`coalesce(access_log.link, access_log.seq)`)
    .limit(limit)
    .execute();
}

/** Every chain's head (as the owner: custodian_app has no privilege on access_log_chains). */
export async function chainHeads(db: Kysely<Database>): Promise<ChainHead[]> {
  const rows = await sql<ChainHead>`select chain, link::text as link, hash from access_log_chains order by chain`.execute(db);
  return rows.rows;
}
