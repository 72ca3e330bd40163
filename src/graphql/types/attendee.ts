import { findAttendee, isAttendeeId, listAttendees, type AttendeeCursor, type AttendeeRow } from '../../db/queries/attendees.js';
import { findEventsById } from '../../db/queries/events.js';
import { NotFoundError } from '../../errors.js';
import { builder, personal } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { decodeCursor, isLookupableId, pageSize, toConnection } from '../pagination.js';
import { reveal } from '../reveal.js';
import { AddressRef } from './address.js';
import { connectionOf } from './connection.js';
import { ConsentStateRef } from './consent-state.js';
import { MaskedFieldRef, type MaskedFieldValue } from './masked-field.js';
import { AttendeeRef, OrderRef, RelationshipRef } from './refs.js';

const personalString = (field: keyof AttendeeRow & string) => (attendee: AttendeeRow, _args: object, context: GraphQLContext) =>
  reveal(context, `Attendee.${field}`, attendee[field] as string | null);

AttendeeRef.implement({
  extensions: personal,
  description: 'A person as one tenant knows them; the id is opaque and differs per tenant.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.string({ nullable: true, resolve: personalString('name') }),
    email: t.string({ nullable: true, resolve: personalString('email') }),
    phone: t.string({ nullable: true, resolve: personalString('phone') }),
    billingAddress: t.field({
      type: AddressRef,
      nullable: true,
      resolve: (a) =>
        a.billingLine1 === null && a.billingCity === null && a.billingCountry === null
          ? null
          : {
              line1: a.billingLine1,
              city: a.billingCity,
              region: a.billingRegion,
              postalCode: a.billingPostalCode,
              country: a.billingCountry,
            },
    }),
    ageRange: t.string({ nullable: true, resolve: personalString('ageRange') }),
    company: t.string({ nullable: true, resolve: personalString('company') }),
    jobTitle: t.string({ nullable: true, resolve: personalString('jobTitle') }),
    industry: t.string({ nullable: true, resolve: personalString('industry') }),
    webPresence: t.string({ nullable: true, resolve: personalString('webPresence') }),
    consent: t.field({
      type: ConsentStateRef,
      nullable: true,
      resolve: (a) =>
        a.consentMarketing === null
          ? null
          : {
              marketing: a.consentMarketing,
              enrichment: a.consentEnrichment ?? false,
              doNotSell: a.consentDoNotSell ?? false,
              restricted: a.consentRestricted ?? false,
              objection: a.consentObjection ?? false,
              updatedAt: a.consentUpdatedAt ?? new Date(0),
            },
    }),
    orders: t.field({
      type: [OrderRef],
      resolve: (a, _args, { data }) => data.ordersOfAttendee.load({ tenantId: a.tenantId, id: a.id }),
    }),
    relationships: t.field({
      type: [RelationshipRef],
      resolve: async (a, _args, { data }) => {
        const rows = await data.relationshipsOfAttendee.load({ tenantId: a.tenantId, id: a.id });
        return rows.map((row) => ({ row, of: a }));
      },
    }),
    masked: t.field({
      type: [MaskedFieldRef],
      description: 'Each field of this person that the caller sees masked, with the reason.',
      resolve: (a, _args, { decision }) => {
        const masked: MaskedFieldValue[] = [];
        for (const [key, mask] of decision.masks) {
          if (mask.level !== 'partial' || !key.startsWith('Attendee.')) continue;
          const field = key.slice('Attendee.'.length);
          if (a[field as keyof AttendeeRow] !== null) masked.push({ field, reason: 'PARTIAL' });
        }
        return masked;
      },
    }),
  }),
});

const AttendeeConnection = connectionOf('Attendee', AttendeeRef);

builder.queryFields((t) => ({
  attendees: t.field({
    type: AttendeeConnection,
    description: 'Attendees in the caller\'s scope, or those holding an order for one event.',
    args: { eventId: t.arg.id(), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, { data }) => {
      const limit = pageSize(args.first);
      const after = decodeCursor(args.after, 2, ([, id]) => isAttendeeId(id!)) as AttendeeCursor | undefined;
      let event: { tenantId: string; id: string } | undefined;
      if (args.eventId !== null && args.eventId !== undefined) {
        const eventId = String(args.eventId);
        const events = isLookupableId(eventId) ? await data.run((db) => findEventsById(db, data.scope, eventId)) : [];
        if (events.length !== 1) throw new NotFoundError('Event');
        event = events[0]!;
      }
      const rows = await data.run((db) => listAttendees(db, data.scope, { limit: limit + 1, after, event }));
      return toConnection(rows, limit, (row) => [row.tenantId, row.id]);
    },
  }),
  attendee: t.field({
    type: AttendeeRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, { data }) => {
      const id = String(args.id);
      const row = isAttendeeId(id) ? await data.run((db) => findAttendee(db, data.scope, id)) : undefined;
      if (row === undefined) throw new NotFoundError('Attendee');
      return row;
    },
  }),
}));
