import { sql, type Kysely } from 'kysely';
import { contentHash, type AccessLogContent, type Outcome } from '../../audit/entry-hash.js';
import type { Database } from '../tables.js';

export interface AccessLogRow extends AccessLogContent {
  seq: string;
  contentHash: string;
  prevHash: string;
  hash: string;
}

/** Appends one entry; the database assigns seq and chains it (see migration 0004). */
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
      content_hash: contentHash(content),
    })
    .execute();
}

function selectEntries(db: Kysely<Database>) {
  return db
    .selectFrom('access_log')
    .select([
      sql<string>`seq::text`.as('seq'),
      'at',
      'actor',
      'role',
      'tenant_id as tenantId',
      'purpose',
      'operation_name as operationName',
      'request_id as requestId',
      'token_id as tokenId',
      'client_address as clientAddress',
      'subjects',
      'fields',
      'masked',
      'exposure',
      'outcome',
      'error_code as errorCode',
      'content_hash as contentHash',
      'prev_hash as prevHash',
      'hash',
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
  if (filter.subjectId !== undefined) query = query.where(sql<boolean>`subjects @> array[${filter.subjectId}]::text[]`);
  if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
  if (filter.tenantId !== undefined) query = query.where('tenant_id', '=', filter.tenantId);
  if (filter.purpose !== undefined) query = query.where('purpose', '=', filter.purpose);
  if (filter.tokenId !== undefined) query = query.where('token_id', '=', filter.tokenId);
  if (filter.from !== undefined) query = query.where('at', '>=', filter.from);
  if (filter.to !== undefined) query = query.where('at', '<', filter.to);
  if (filter.outcome !== undefined) query = query.where('outcome', '=', filter.outcome);
  return query;
}

/** Newest first; the cursor is (at, seq). RLS decides who may read which entries. */
export async function listAccessLog(
  db: Kysely<Database>,
  filter: AccessLogFilter,
  page: { limit: number; before: readonly [at: string, seq: string] | undefined },
): Promise<AccessLogRow[]> {
  let query = filtered(db, filter);
  if (page.before !== undefined) {
    const [at, seq] = page.before;
    query = query.where(sql<boolean>`(at, seq) < (${new Date(at)}::timestamptz, ${seq}::bigint)`);
  }
  return query.orderBy('at', 'desc').orderBy('seq', 'desc').limit(page.limit).execute();
}

/** Every entry matching the filter (breach scoping over a bounded window). */
export async function allAccessLog(db: Kysely<Database>, filter: AccessLogFilter): Promise<AccessLogRow[]> {
  return filtered(db, filter).orderBy('seq').execute();
}

/** The chain in order, a page at a time (for verification, as the owner). */
export async function chainPage(db: Kysely<Database>, afterSeq: string, limit: number): Promise<AccessLogRow[]> {
  return selectEntries(db).where(sql<boolean>`seq > ${afterSeq}::bigint`).orderBy('seq').limit(limit).execute();
}

export async function chainHead(db: Kysely<Database>): Promise<{ seq: string; hash: string }> {
  const row = await sql<{ seq: string; hash: string }>`select seq::text as seq, hash from access_log_head`.execute(db);
  return row.rows[0] ?? { seq: '0', hash: '0'.repeat(64) };
}
