import type { Kysely } from 'kysely';
import { erasureOf, recordRequest, type DataSubjectRequestRow } from '../db/queries/data-subject-requests.js';
import { residencyOf } from '../db/queries/data-subject-writes.js';
import { insertHold, isHeld, liftHold, listHolds, markWaitingForHold, unliftedHold, type LegalHoldRow } from '../db/queries/legal-holds.js';
import type { Database } from '../db/tables.js';
import { BadUserInputError, NotFoundError, PersonErasedError } from '../errors.js';
import { erase, type Requester } from './data-subject-service.js';
import { dueDate } from './request-deadlines.js';

/** What an erasure request that waits for a hold says in its details (`waitingFor`). */
export const WAITING_FOR_HOLD = 'LEGAL_HOLD';

const REASON_LIMIT = 1000;

async function existingPerson(db: Kysely<Database>, personId: string): Promise<string> {
  const residency = await residencyOf(db, personId);
  if (residency !== undefined) return residency;
  if ((await erasureOf(db, personId)) !== undefined) throw new PersonErasedError();
  throw new NotFoundError('Person');
}

/**
 * A legal hold (JanusIPM §13: legal obligations, dispute resolution, fraud prevention): while it
 * is active the person's data survives retention and an erasure request waits. One active hold per
 * person; a hold past its end date is closed when the next one is placed.
 */
export async function placeLegalHold(
  db: Kysely<Database>,
  requester: Requester,
  personId: string,
  input: { reason: string; until: Date | null },
): Promise<LegalHoldRow> {
  const reason = input.reason.trim();
  if (reason.length === 0 || reason.length > REASON_LIMIT) throw new BadUserInputError(`"reason" must be 1 to ${REASON_LIMIT} characters.`);
  if (input.until !== null && input.until.getTime() <= Date.now()) throw new BadUserInputError('"until" must be in the future.');
  await existingPerson(db, personId);
  const current = await unliftedHold(db, personId);
  if (current !== undefined) {
    if (current.until === null || current.until.getTime() > Date.now()) {
      throw new BadUserInputError('The person is already under a legal hold; lift it before placing another.');
    }
    await liftHold(db, current.id, 'expired', current.until);
  }
  return insertHold(db, { personId, reason, placedBy: requester.subject, until: input.until });
}

/** Lifts the person's hold; an erasure request that waited for it is carried out now. */
export async function liftLegalHold(db: Kysely<Database>, requester: Requester, personId: string): Promise<LegalHoldRow> {
  const current = await unliftedHold(db, personId);
  if (current === undefined) throw new NotFoundError('Legal hold');
  const lifted = await liftHold(db, current.id, requester.subject);
  await carryOutWaitingErasure(db, requester, personId);
  return lifted;
}

export const legalHolds = (db: Kysely<Database>, personId: string | undefined): Promise<LegalHoldRow[]> => listHolds(db, personId);

/** Carries out an erasure request that waited for a hold, once no hold is active. */
export async function carryOutWaitingErasure(db: Kysely<Database>, requester: Requester, personId: string): Promise<DataSubjectRequestRow | undefined> {
  const waiting = await erasureOf(db, personId);
  if (waiting === undefined || waiting.completedAt !== null || waiting.details['waitingFor'] !== WAITING_FOR_HOLD) return undefined;
  if (await isHeld(db, personId)) return undefined;
  return erase(db, requester, personId);
}

/**
 * `requestErasure`: carried out at once, unless the person is under a legal hold. Then the
 * request is recorded open, with `waitingFor: LEGAL_HOLD` (the requester learns that it waits and
 * why, never the hold's reason), and is carried out when the hold is lifted or ends.
 */
export async function requestErasure(db: Kysely<Database>, requester: Requester, personId: string): Promise<DataSubjectRequestRow> {
  if (!(await isHeld(db, personId))) return erase(db, requester, personId);
  const residency = await existingPerson(db, personId);
  const open = await erasureOf(db, personId);
  if (open !== undefined && open.completedAt === null) {
    if (open.details['waitingFor'] !== WAITING_FOR_HOLD) await markWaitingForHold(db, open.id);
    return { ...open, details: { ...open.details, waitingFor: WAITING_FOR_HOLD } };
  }
  const requestedAt = new Date();
  return recordRequest(db, {
    personId,
    kind: 'ERASURE',
    requestedBy: requester.subject,
    requestedByRole: requester.role,
    requestedAt,
    dueAt: dueDate(requestedAt, residency),
    completed: false,
    details: { waitingFor: WAITING_FOR_HOLD },
  });
}
