import type { Kysely } from 'kysely';
import { listAccessLog } from '../db/queries/access-log.js';
import { entryForPerson } from '../audit/person-view.js';
import { attendeesOfPeople } from '../db/queries/attendees.js';
import { recordRequest, erasureOf, listRequests, type DataSubjectRequestRow, type RequestKind } from '../db/queries/data-subject-requests.js';
import { correctPerson, erasePerson, residencyOf, updateConsent, type ConsentChanges, type PersonCorrections } from '../db/queries/data-subject-writes.js';
import { eventsByKeys } from '../db/queries/events.js';
import { ordersByAttendees, relationshipsByAttendees, ticketsByOrders } from '../db/queries/orders.js';
import { devicesOfPeople, findPerson, supportCasesOfPeople, usageOfPeople } from '../db/queries/people.js';
import type { DataScope } from '../db/request-scope.js';
import type { Database } from '../db/tables.js';
import { BadUserInputError, NotFoundError, PersonErasedError } from '../errors.js';
import { encodeCursor } from '../graphql/pagination.js';
import { dueDate } from './request-deadlines.js';

/** Who acts on a request: recorded with it. */
export interface Requester {
  subject: string;
  role: string;
}

/** The person's residency, or the right error: erased (the erasure record remains) or unknown. */
async function residencyOrRefuse(db: Kysely<Database>, personId: string): Promise<string> {
  const residency = await residencyOf(db, personId);
  if (residency !== undefined) return residency;
  if ((await erasureOf(db, personId)) !== undefined) throw new PersonErasedError();
  throw new NotFoundError('Person');
}

async function record(
  db: Kysely<Database>,
  requester: Requester,
  personId: string,
  residency: string,
  kind: RequestKind,
  details: Record<string, unknown>,
  completed = true,
  requestedAt = new Date(),
): Promise<DataSubjectRequestRow> {
  return recordRequest(db, {
    personId,
    kind,
    requestedBy: requester.subject,
    requestedByRole: requester.role,
    requestedAt,
    dueAt: dueDate(requestedAt, residency),
    completed,
    details,
  });
}

/** Consent withdrawal, enrichment opt-out, do-not-sell, objection or restriction: effective from the next read. */
export async function changeConsent(
  db: Kysely<Database>,
  requester: Requester,
  personId: string,
  changes: ConsentChanges,
): Promise<DataSubjectRequestRow> {
  const changed = Object.entries(changes).filter(([, value]) => value !== undefined && value !== null);
  if (changed.length === 0) throw new BadUserInputError('Name at least one choice to change.');
  const residency = await residencyOrRefuse(db, personId);
  if (!(await updateConsent(db, personId, Object.fromEntries(changed)))) throw new NotFoundError('Person');
  const kind: RequestKind =
    changed.length === 1 && changes.restricted !== undefined ? 'RESTRICTION' : changed.length === 1 && changes.objection !== undefined ? 'OBJECTION' : 'CONSENT';
  return record(db, requester, personId, residency, kind, { changed: Object.fromEntries(changed) });
}

/** Correction of the person's own fields; which fields changed is recorded, never the values. */
export async function rectify(
  db: Kysely<Database>,
  requester: Requester,
  personId: string,
  corrections: PersonCorrections,
): Promise<DataSubjectRequestRow> {
  const fields = Object.keys(corrections);
  if (fields.length === 0) throw new BadUserInputError('Name at least one field to correct.');
  const residency = await residencyOrRefuse(db, personId);
  if (!(await correctPerson(db, personId, corrections))) throw new NotFoundError('Person');
  return record(db, requester, personId, corrections.residency ?? residency, 'RECTIFICATION', { fields });
}

/**
 * Erasure, subject to legal retention: see erasePerson. A second erasure is refused. Retention
 * erases inactive accounts through here too, recorded as kind RETENTION.
 */
export async function erase(
  db: Kysely<Database>,
  requester: Requester,
  personId: string,
  kind: 'ERASURE' | 'RETENTION' = 'ERASURE',
): Promise<DataSubjectRequestRow> {
  const residency = await residencyOrRefuse(db, personId);
  await erasePerson(db, personId);
  return record(db, requester, personId, residency, kind, { retained: 'orders, pseudonymised, for 7 years' });
}

/** A request received outside the gateway (email, letter), open until it is carried out. */
export async function fileRequest(
  db: Kysely<Database>,
  requester: Requester,
  personId: string,
  kind: RequestKind,
  receivedAt: Date,
): Promise<DataSubjectRequestRow> {
  if (receivedAt.getTime() > Date.now() + 60_000) throw new BadUserInputError('"receivedAt" cannot be in the future.');
  if (kind === 'RETENTION') throw new BadUserInputError('RETENTION records erasures by retention; file an ERASURE request instead.');
  const residency = await residencyOrRefuse(db, personId);
  return record(db, requester, personId, residency, kind, {}, false, receivedAt);
}

/** One part of an export, as the field it would have been read as (for the access log). */
export type Disclosure = readonly [type: string, field: string, value: unknown];

export interface PersonExport {
  document: Record<string, unknown>;
  /** What the document disclosed, field by field: the access log records it as if each were read. */
  disclosed: readonly Disclosure[];
}

/** The newest access-log entries an export carries; `accessHistoryPage` links to the rest. */
export const EXPORT_HISTORY_LIMIT = 500;

/**
 * Access and portability: everything held about the person, across every tenant, as one
 * machine-readable document. The access itself is recorded as a request.
 */
export async function exportPerson(
  db: Kysely<Database>,
  scope: DataScope,
  requester: Requester,
  personId: string,
  historyLimit = EXPORT_HISTORY_LIMIT,
): Promise<PersonExport> {
  const residency = await residencyOrRefuse(db, personId);
  const person = await findPerson(db, personId);
  if (person === undefined) throw new NotFoundError('Person');
  const attendees = await attendeesOfPeople(db, scope, [personId]);
  const keys = attendees.map((a) => ({ tenantId: a.tenantId, id: a.id }));
  const [orders, relationships, devices, usage, supportCases] = await Promise.all([
    ordersByAttendees(db, scope, keys),
    relationshipsByAttendees(db, scope, keys),
    devicesOfPeople(db, [personId]),
    usageOfPeople(db, [personId]),
    supportCasesOfPeople(db, [personId]),
  ]);
  const tickets = await ticketsByOrders(db, scope, orders.map((o) => ({ tenantId: o.tenantId, id: o.id })));
  const events = await eventsByKeys(db, scope, orders.map((o) => ({ tenantId: o.tenantId, id: o.eventId })));
  const access = await record(db, requester, personId, residency, 'ACCESS', {});
  // Capped: a long history is paged through accessHistory (the `after` cursor below), not
  // embedded whole, so one export cannot grow with every read ever made of the person.
  const fetched = await listAccessLog(db, { subjectId: personId }, { limit: historyLimit + 1, before: undefined });
  const history = fetched.slice(0, historyLimit);
  const last = history.at(-1);
  const more = fetched.length > historyLimit && last !== undefined;
  const after = more ? encodeCursor([last.at.toISOString(), last.seq]) : null;
  const requests = await listRequests(db, { personId, overdueAt: undefined, open: undefined }, { limit: 10_000, after: undefined });
  const eventName = new Map(events.map((e) => [`${e.tenantId}\u0000${e.id}`, e.name]));
  const billingAddress = [person.billingLine1, person.billingCity, person.billingRegion, person.billingPostalCode, person.billingCountry];
  const disclosed: Disclosure[] = [
    ['DataSubject', 'id', person.personId],
    ['DataSubject', 'name', person.name],
    ['DataSubject', 'email', person.email],
    ['DataSubject', 'phone', person.phone],
    ['DataSubject', 'billingAddress', billingAddress.some((v) => v !== null) ? billingAddress : null],
    ['DataSubject', 'ageRange', person.ageRange],
    ['DataSubject', 'residency', person.residency],
    ['DataSubject', 'createdAt', person.createdAt],
    ['DataSubject', 'lastActiveAt', person.lastActiveAt],
    ['DataSubject', 'consent', person.consentMarketing],
    ['DataSubject', 'company', person.company],
    ['DataSubject', 'jobTitle', person.jobTitle],
    ['DataSubject', 'industry', person.industry],
    ['DataSubject', 'webPresence', person.webPresence],
    ['DataSubject', 'devices', devices],
    ['DataSubject', 'usage', usage],
    ['DataSubject', 'supportCases', supportCases],
    ['DataSubject', 'attendances', attendees],
    ['Attendee', 'orders', orders],
    ['Order', 'paymentRef', orders.find((o) => o.paymentRef !== null)?.paymentRef ?? null],
    ['Attendee', 'relationships', relationships],
    ['DataSubject', 'accessHistory', history],
    ['DataSubject', 'requests', requests],
  ];
  const document = {
    format: 'custodian-export/1',
    exportedAt: new Date().toISOString(),
    requestId: access.id,
    person: {
      id: person.personId,
      name: person.name,
      email: person.email,
      phone: person.phone,
      billingAddress: {
        line1: person.billingLine1,
        city: person.billingCity,
        region: person.billingRegion,
        postalCode: person.billingPostalCode,
        country: person.billingCountry,
      },
      ageRange: person.ageRange,
      residency: person.residency,
      createdAt: person.createdAt,
      lastActiveAt: person.lastActiveAt,
    },
    consent: {
      marketing: person.consentMarketing,
      enrichment: person.consentEnrichment,
      doNotSell: person.consentDoNotSell,
      restricted: person.consentRestricted,
      objection: person.consentObjection,
      updatedAt: person.consentUpdatedAt,
    },
    enrichment: { company: person.company, jobTitle: person.jobTitle, industry: person.industry, webPresence: person.webPresence },
    devices: devices.map(({ ip, userAgent }) => ({ ip, userAgent })),
    usage: usage.map(({ at, page, feature }) => ({ at, page, feature })),
    supportCases: supportCases.map(({ id, openedAt, resolvedAt, subject, body }) => ({ id, openedAt, resolvedAt, subject, body })),
    tenants: attendees.map((a) => ({
      tenant: a.tenantId,
      attendeeId: a.id,
      orders: orders
        .filter((o) => o.tenantId === a.tenantId && o.attendeeId === a.id)
        .map((o) => ({
          id: o.id,
          event: { id: o.eventId, name: eventName.get(`${o.tenantId}\u0000${o.eventId}`) ?? null },
          placedAt: o.placedAt,
          totalCents: o.totalCents,
          currency: o.currency,
          status: o.status,
          paymentRef: o.paymentRef,
          tickets: tickets
            .filter((t) => t.tenantId === o.tenantId && t.orderId === o.id)
            .map(({ id, type, checkedInAt }) => ({ id, type, checkedInAt })),
        })),
      relationships: relationships
        .filter((r) => r.tenantId === a.tenantId && (r.fromAttendeeId === a.id || r.toAttendeeId === a.id))
        .map((r) => ({ kind: r.kind, direction: r.fromAttendeeId === a.id ? 'OUTGOING' : 'INCOMING' })),
    })),
    // The person's own view of each entry: no other people, no staff member's token or address.
    accessHistory: history.map((row) => entryForPerson(row, personId, true)).map((entry) => ({
      at: entry.at,
      actor: entry.actor,
      role: entry.role,
      tenant: entry.tenantId,
      purpose: entry.purpose,
      fields: entry.fields,
      masked: entry.masked,
      outcome: entry.outcome,
    })),
    accessHistoryPage: {
      complete: !more,
      limit: historyLimit,
      // The same cursor accessHistory(after:) takes: the rest, newest first.
      after,
      query: after === null ? null : `{ me { accessHistory(first: 500, after: ${JSON.stringify(after)}) { edges { node { at role tenant purpose fields } } pageInfo { hasNextPage endCursor } } } }`,
    },
    requests: requests.map(({ id, kind, requestedAt, dueAt, completedAt, requestedByRole }) => ({
      id,
      kind,
      requestedAt,
      dueAt,
      completedAt,
      requestedByRole,
    })),
  };
  return { document, disclosed };
}
