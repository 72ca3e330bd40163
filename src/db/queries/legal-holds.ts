import { sql, type Kysely } from 'kysely';
import type { Database } from '../tables.js';

export interface LegalHoldRow {
  id: string;
  personId: string;
  reason: string;
  placedBy: string;
  placedAt: Date;
  until: Date | null;
  liftedBy: string | null;
  liftedAt: Date | null;
}

const COLUMNS = sql`id, person_id as "personId", reason, placed_by as "placedBy", placed_at as "placedAt", until,
  lifted_by as "liftedBy", lifted_at as "liftedAt"`;

/** The unlifted hold of a person (it may be past its end date). */
export async function unliftedHold(db: Kysely<Database>, personId: string): Promise<LegalHoldRow | undefined> {
  const result = await sql<LegalHoldRow>`select ${COLUMNS} from legal_holds where person_id = ${personId} and lifted_at is null`.execute(db);
  return result.rows[0];
}

export async function insertHold(db: Kysely<Database>, hold: { personId: string; reason: string; placedBy: string; until: Date | null }): Promise<LegalHoldRow> {
  const result = await sql<LegalHoldRow>`insert into legal_holds (person_id, reason, placed_by, until)
    values (${hold.personId}, ${hold.reason}, ${hold.placedBy}, ${hold.until}) returning ${COLUMNS}`.execute(db);
  return result.rows[0]!;
}

export async function liftHold(db: Kysely<Database>, id: string, liftedBy: string, at: Date | null = null): Promise<LegalHoldRow> {
  const result = await sql<LegalHoldRow>`update legal_holds set lifted_by = ${liftedBy}, lifted_at = coalesce(${at}::timestamptz, now())
    where id = ${id}::uuid returning ${COLUMNS}`.execute(db);
  return result.rows[0]!;
}

/** Holds, newest first, of one person or of everyone. */
export async function listHolds(db: Kysely<Database>, personId: string | undefined): Promise<LegalHoldRow[]> {
  const filter = personId === undefined ? sql`true` : sql`person_id = ${personId}`;
  const result = await sql<LegalHoldRow>`select ${COLUMNS} from legal_holds where ${filter} order by placed_at desc, id desc limit 10000`.execute(db);
  return result.rows;
}

/** Whether the person is under an active hold; answers in any scope (see migration 0007). */
export async function isHeld(db: Kysely<Database>, personId: string): Promise<boolean> {
  const result = await sql<{ held: boolean }>`select custodian_person_held(${personId}) as held`.execute(db);
  return result.rows[0]?.held ?? false;
}

/** Erasure requests waiting for a hold that is no longer active (lifted or past its end). */
export async function erasuresNoLongerHeld(db: Kysely<Database>, now: Date): Promise<string[]> {
  const result = await sql<{ person_id: string }>`select r.person_id from data_subject_requests r
    where r.kind = 'ERASURE' and r.completed_at is null and r.details->>'waitingFor' = 'LEGAL_HOLD'
      and not exists (select 1 from legal_holds h where h.person_id = r.person_id and h.lifted_at is null
        and (h.until is null or h.until > ${now}))
    order by r.requested_at`.execute(db);
  return result.rows.map((row) => row.person_id);
}

/** Notes on an open erasure request that it waits for a legal hold. */
export async function markWaitingForHold(db: Kysely<Database>, requestId: string): Promise<void> {
  await sql`update data_subject_requests set details = details || '{"waitingFor": "LEGAL_HOLD"}'::jsonb
    where id = ${requestId}::uuid`.execute(db);
}
