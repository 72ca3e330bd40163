import { sql, type Kysely } from 'kysely';
import type { Database } from '../tables.js';

export const REQUEST_KINDS = ['ACCESS', 'RECTIFICATION', 'ERASURE', 'RESTRICTION', 'OBJECTION', 'CONSENT', 'RETENTION'] as const;

/** An erasure by request, or by retention after 3 years without activity (migration 0007). */
export const ERASURE_KINDS = ['ERASURE', 'RETENTION'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export interface DataSubjectRequestRow {
  id: string;
  personId: string;
  kind: RequestKind;
  requestedBy: string;
  requestedByRole: string;
  requestedAt: Date;
  dueAt: Date;
  completedAt: Date | null;
  /** Which choices or fields changed; never their values. */
  details: Record<string, unknown>;
}

function selectRequests(db: Kysely<Database>) {
  return db
    .selectFrom('data_subject_requests')
    .select([
      'id',
      'person_id as personId',
      'kind',
      'requested_by as requestedBy',
      'requested_by_role as requestedByRole',
      'requested_at as requestedAt',
      'due_at as dueAt',
      'completed_at as completedAt',
      'details',
    ])
    .$castTo<DataSubjectRequestRow>();
}

export interface NewRequest {
  personId: string;
  kind: RequestKind;
  requestedBy: string;
  requestedByRole: string;
  requestedAt: Date;
  dueAt: Date;
  completed: boolean;
  details: Record<string, unknown>;
}

/**
 * Records a request. When it is carried out and an earlier request of the same kind is still
 * open for the person, that one is completed instead of filing a second.
 */
export async function recordRequest(db: Kysely<Database>, request: NewRequest): Promise<DataSubjectRequestRow> {
  if (request.completed) {
    const open = await db
      .selectFrom('data_subject_requests')
      .select('id')
      .where('person_id', '=', request.personId)
      .where('kind', '=', request.kind)
      .where('completed_at', 'is', null)
      .orderBy('requested_at')
      .limit(1)
      .executeTakeFirst();
    if (open !== undefined) {
      await db
        .updateTable('data_subject_requests')
        // One clock: the completion is the moment of this request, never before the one it completes.
        .set({ completed_at: sql<Date>`greatest(${request.requestedAt}::timestamptz, requested_at)`, details: JSON.stringify(request.details) })
        .where('id', '=', open.id)
        .execute();
      return (await selectRequests(db).where('id', '=', open.id).executeTakeFirstOrThrow());
    }
  }
  const { id } = await db
    .insertInto('data_subject_requests')
    .values({
      person_id: request.personId,
      kind: request.kind,
      requested_by: request.requestedBy,
      requested_by_role: request.requestedByRole,
      requested_at: request.requestedAt,
      due_at: request.dueAt,
      // The same instant as requested_at (the database's now() is the transaction's start, which
      // came before the application's clock read, and made completedAt precede requestedAt).
      completed_at: request.completed ? request.requestedAt : null,
      details: JSON.stringify(request.details),
    } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  return selectRequests(db).where('id', '=', id).executeTakeFirstOrThrow();
}

export async function erasureOf(db: Kysely<Database>, personId: string): Promise<DataSubjectRequestRow | undefined> {
  return selectRequests(db)
    .where('person_id', '=', personId)
    .where('kind', 'in', [...ERASURE_KINDS])
    .orderBy('completed_at', (ob) => ob.desc().nullsLast())
    .executeTakeFirst();
}

/** Which of these people were erased (their erasure record is what remains of them). */
export async function erasedAmong(db: Kysely<Database>, personIds: readonly string[]): Promise<Set<string>> {
  if (personIds.length === 0) return new Set();
  const rows = await db
    .selectFrom('data_subject_requests')
    .select('person_id')
    .where('kind', 'in', [...ERASURE_KINDS])
    // One array parameter: an import may name more people than a statement may have parameters.
    .where(sql<boolean>`person_id = any(${[...personIds]}::text[])`)
    .execute();
  return new Set(rows.map((row) => row.person_id));
}

export type RequestCursor = readonly [requestedAt: string, id: string];

export async function listRequests(
  db: Kysely<Database>,
  filter: { personId: string | undefined; overdueAt: Date | undefined; open: boolean | undefined },
  page: { limit: number; after: RequestCursor | undefined },
): Promise<DataSubjectRequestRow[]> {
  let query = selectRequests(db);
  if (filter.personId !== undefined) query = query.where('person_id', '=', filter.personId);
  if (filter.overdueAt !== undefined) query = query.where('completed_at', 'is', null).where('due_at', '<', filter.overdueAt);
  if (filter.open === true) query = query.where('completed_at', 'is', null);
  if (filter.open === false) query = query.where('completed_at', 'is not', null);
  if (page.after !== undefined) {
    const [requestedAt, id] = page.after;
    query = query.where((eb) => eb(eb.refTuple('requested_at', 'id'), '>', eb.tuple(new Date(requestedAt) as never, id)));
  }
  return query.orderBy('requested_at').orderBy('id').limit(page.limit).execute();
}
