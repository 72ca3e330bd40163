import { z } from 'zod';
import { listRequests, REQUEST_KINDS, type DataSubjectRequestRow, type RequestCursor } from '../../db/queries/data-subject-requests.js';
import type { PersonCorrections } from '../../db/queries/data-subject-writes.js';
import { findPerson } from '../../db/queries/people.js';
import { BadUserInputError, NotFoundError } from '../../errors.js';
import { changeConsent, exportPerson, fileRequest, rectify } from '../../privacy/data-subject-service.js';
import { requestErasure } from '../../privacy/legal-holds.js';
import { personRow, UNDER_13 } from '../../privacy/import/import-format.js';
import type { Caller } from '../../auth/caller.js';
import { builder, personal } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { decodeCursor, isIssuedInstant, isLookupableId, pageSize, toConnection } from '../pagination.js';
import { connectionOf } from './connection.js';
import { ConsentStateRef, consentValueOf, type ConsentValue } from './consent-state.js';
import { DataSubjectRef } from './data-subject.js';

const RequestKindEnum = builder.enumType('DataSubjectRequestKind', { values: REQUEST_KINDS });

export const DataSubjectRequestRef = builder.objectRef<DataSubjectRequestRow>('DataSubjectRequest').implement({
  extensions: personal,
  description: 'The minimal record of a data-subject request: kind, who asked, when, and its due date.',
  fields: (t) => ({
    id: t.exposeID('id'),
    personId: t.exposeID('personId'),
    kind: t.field({ type: RequestKindEnum, resolve: (r) => r.kind }),
    requestedBy: t.exposeString('requestedBy'),
    requestedByRole: t.exposeString('requestedByRole'),
    requestedAt: t.expose('requestedAt', { type: 'DateTime' }),
    dueAt: t.expose('dueAt', { type: 'DateTime', description: '30 days for EU and GB residents, 45 otherwise.' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
    overdue: t.boolean({ resolve: (r) => r.completedAt === null && r.dueAt.getTime() < Date.now() }),
  }),
});

const DataSubjectRequestConnection = connectionOf('DataSubjectRequest', DataSubjectRequestRef);

/** A data subject acts only on themself; anyone else is answered as unknown (RLS agrees). */
export function targetPerson(caller: Caller, personId: string | number): string {
  const id = String(personId);
  if (!isLookupableId(id) || (caller.scope.kind === 'person' && id !== caller.subject)) throw new NotFoundError('Person');
  return id;
}

export const requester = (caller: Caller) => ({ subject: caller.subject, role: caller.role });

async function consentOf(context: GraphQLContext, personId: string): Promise<ConsentValue> {
  const person = await context.data.run((db) => findPerson(db, personId));
  const consent = person === undefined ? null : consentValueOf(person);
  if (consent === null) throw new NotFoundError('Person');
  return consent;
}

const ConsentInput = builder.inputType('ConsentInput', {
  description: 'The choices to change; leave out what stays as it is.',
  fields: (t) => ({
    marketing: t.boolean({ description: 'false withdraws marketing consent' }),
    enrichment: t.boolean({ description: 'false opts out of enrichment (Apollo.io, Exa.ai) and relationship tracking' }),
    doNotSell: t.boolean({ description: 'true: do not sell or share (CCPA)' }),
    objection: t.boolean({ description: 'true: objects to processing for insights, marketing, grant reporting and analytics (GDPR Art. 21)' }),
  }),
});

const AddressInput = builder.inputType('AddressInput', {
  fields: (t) => ({
    line1: t.string({ required: true }),
    city: t.string({ required: true }),
    region: t.string(),
    postalCode: t.string(),
    country: t.string({ required: true, description: 'ISO 3166 alpha-2' }),
  }),
});

const RectifyInput = builder.inputType('RectifyInput', {
  description: 'Corrections; leave out what stays as it is.',
  fields: (t) => ({
    name: t.string(),
    email: t.string(),
    phone: t.string(),
    billingAddress: t.field({ type: AddressInput }),
    ageRange: t.string({ description: '13-17, 18-24, 25-34, 35-44, 45-54, 55-64 or 65+' }),
    residency: t.string({ description: 'such as US-CA, EU-DE or GB' }),
  }),
});

// The import format's rules for each field, so a correction can store nothing an import could not.
const correctionSchema = z.strictObject({
  name: personRow.shape.name.optional(),
  email: personRow.shape.email.optional(),
  phone: personRow.shape.phone,
  billingAddress: personRow.shape.billingAddress,
  ageRange: personRow.shape.ageRange,
  residency: personRow.shape.residency.optional(),
});

function toCorrections(input: Record<string, unknown>): PersonCorrections {
  const present = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== null && value !== undefined));
  if (present['ageRange'] === UNDER_13) throw new BadUserInputError('ageRange: people under 13 are never stored (Janix notice §9).');
  const parsed = correctionSchema.safeParse(present);
  if (!parsed.success) {
    // Names the field and the rule, never the value given.
    throw new BadUserInputError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  const c = parsed.data;
  return {
    ...(c.name === undefined ? {} : { name: c.name }),
    ...(c.email === undefined ? {} : { email: c.email }),
    ...(c.phone === undefined ? {} : { phone: c.phone }),
    ...(c.ageRange === undefined ? {} : { age_range: c.ageRange }),
    ...(c.residency === undefined ? {} : { residency: c.residency }),
    ...(c.billingAddress === undefined
      ? {}
      : {
          billing_line1: c.billingAddress.line1,
          billing_city: c.billingAddress.city,
          billing_region: c.billingAddress.region ?? null,
          billing_postal_code: c.billingAddress.postalCode ?? null,
          billing_country: c.billingAddress.country,
        }),
  };
}

builder.objectField(DataSubjectRef, 'export', (t) =>
  t.field({
    type: 'JSONObject',
    description: 'Everything held about the person, as one machine-readable document (access and portability). Recorded as an ACCESS request.',
    resolve: async (person, _args, { caller, data, trail }) => {
      const { document, disclosed } = await data.run((db) => exportPerson(db, data.scope, requester(caller), person.personId));
      // The log records what the document holds as if each field had been read (POLICY.md).
      for (const [type, field, value] of disclosed) trail.read(type, field, person, value);
      return document;
    },
  }),
);

builder.objectField(DataSubjectRef, 'requests', (t) =>
  t.field({
    type: [DataSubjectRequestRef],
    description: "The person's data-subject requests.",
    resolve: (person, _args, { data }) =>
      data.run((db) => listRequests(db, { personId: person.personId, overdueAt: undefined, open: undefined }, { limit: 10_000, after: undefined })),
  }),
);

builder.queryField('dataSubjectRequests', (t) =>
  t.field({
    type: DataSubjectRequestConnection,
    description: 'Data-subject requests, oldest first; `overdue: true` lists the open ones past their due date.',
    args: { personId: t.arg.id(), overdue: t.arg.boolean(), open: t.arg.boolean(), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, { caller, data }) => {
      const limit = pageSize(args.first);
      const after = decodeCursor(args.after, 2, ([at]) => isIssuedInstant(at!)) as RequestCursor | undefined;
      const personId = args.personId === null || args.personId === undefined ? undefined : targetPerson(caller, args.personId);
      const rows = await data.run((db) =>
        listRequests(
          db,
          { personId, overdueAt: args.overdue === true ? new Date() : undefined, open: args.open ?? undefined },
          { limit: limit + 1, after },
        ),
      );
      return toConnection(rows, limit, (row) => [row.requestedAt.toISOString(), row.id]);
    },
  }),
);

builder.mutationType({});

builder.mutationFields((t) => ({
  setConsent: t.field({
    type: ConsentStateRef,
    description: 'Withdraw or give marketing consent, opt out of enrichment, do-not-sell, object. Effective from the next request.',
    args: { personId: t.arg.id({ required: true }), input: t.arg({ type: ConsentInput, required: true }) },
    resolve: async (_root, args, context) => {
      const personId = targetPerson(context.caller, args.personId);
      const { marketing, enrichment, doNotSell, objection } = args.input;
      const changes = Object.fromEntries(
        Object.entries({ marketing, enrichment, doNotSell, objection }).filter(([, v]) => v !== null && v !== undefined),
      ) as Record<string, boolean>;
      await context.data.run((db) => changeConsent(db, requester(context.caller), personId, changes));
      return consentOf(context, personId);
    },
  }),
  restrictProcessing: t.field({
    type: ConsentStateRef,
    description: 'GDPR Art. 18: while restricted, every purpose but legal-compliance and self-service sees the person masked.',
    args: { personId: t.arg.id({ required: true }), restricted: t.arg.boolean({ required: true }) },
    resolve: async (_root, args, context) => {
      const personId = targetPerson(context.caller, args.personId);
      await context.data.run((db) => changeConsent(db, requester(context.caller), personId, { restricted: args.restricted }));
      return consentOf(context, personId);
    },
  }),
  rectify: t.field({
    type: DataSubjectRef,
    args: { personId: t.arg.id({ required: true }), input: t.arg({ type: RectifyInput, required: true }) },
    resolve: async (_root, args, context) => {
      const personId = targetPerson(context.caller, args.personId);
      const corrections = toCorrections(args.input as Record<string, unknown>);
      await context.data.run((db) => rectify(db, requester(context.caller), personId, corrections));
      const person = await context.data.run((db) => findPerson(db, personId));
      if (person === undefined) throw new NotFoundError('Person');
      return person;
    },
  }),
  requestErasure: t.field({
    type: DataSubjectRequestRef,
    description:
      'Erases the person from every live table at once; orders stay 7 years, pseudonymised. Under a legal hold the request is recorded open, `waitingFor: LEGAL_HOLD`, and carried out when the hold ends.',
    args: { personId: t.arg.id({ required: true }) },
    resolve: (_root, args, { caller, data }) => {
      const personId = targetPerson(caller, args.personId);
      return data.run((db) => requestErasure(db, requester(caller), personId));
    },
  }),
  fileDataSubjectRequest: t.field({
    type: DataSubjectRequestRef,
    description: 'Records a request received elsewhere (email, letter); it stays open, and counts towards overdue, until carried out.',
    args: {
      personId: t.arg.id({ required: true }),
      kind: t.arg({ type: RequestKindEnum, required: true }),
      receivedAt: t.arg({ type: 'DateTime' }),
    },
    resolve: (_root, args, { caller, data }) => {
      const personId = targetPerson(caller, args.personId);
      return data.run((db) => fileRequest(db, requester(caller), personId, args.kind, args.receivedAt ?? new Date()));
    },
  }),
}));
