import { findAttendee, isAttendeeId, listAttendees, type AttendeeCursor } from '../../db/queries/attendees.js';
import { NotFoundError } from '../../errors.js';
import { builder, personal } from '../builder.js';
import { decodeCursor, isAttendeeIdCursor, pageSize, toConnection } from '../pagination.js';
import { eventInScope } from '../event-in-scope.js';
import { connectionOf } from './connection.js';
import { PersonRef, personFields } from './person-fields.js';
import { AttendeeRef, OrderRef, RelationshipRef } from './refs.js';

AttendeeRef.implement({
  interfaces: [PersonRef],
  extensions: personal,
  description: 'A person as one tenant knows them; the id is opaque and differs per tenant.',
  fields: (t) => ({
    id: t.exposeID('id'),
    tenant: t.exposeString('tenantId', { description: 'The tenant (organizer) that knows the person by this attendee.' }),
    ...personFields(t, 'Attendee'),
    orders: t.field({
      type: [OrderRef],
      // The masking view decides: an erased person's orders stay (pseudonymised), other states can hide them.
      resolve: (a, _args, { data }) => data.ordersOfAttendee.load({ tenantId: a.tenantId, id: a.id }),
    }),
    relationships: t.field({
      type: [RelationshipRef],
      resolve: async (a, _args, { data }) => {
        const rows = await data.relationshipsOfAttendee.load({ tenantId: a.tenantId, id: a.id });
        return rows.map((row) => ({ row, of: a }));
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
      const after = decodeCursor(args.after, 2, isAttendeeIdCursor) as AttendeeCursor | undefined;
      const event = await eventInScope(data, args.eventId);
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
