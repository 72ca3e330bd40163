import { findEventsById, listEvents, type EventCursor } from '../../db/queries/events.js';
import { NotFoundError } from '../../errors.js';
import { builder } from '../builder.js';
import { decodeCursor, isIssuedInstant, isLookupableId, pageSize, toConnection } from '../pagination.js';
import { connectionOf } from './connection.js';
import { EventRef } from './refs.js';

EventRef.implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    venue: t.exposeString('venue', { nullable: true }),
    startsAt: t.expose('startsAt', { type: 'DateTime' }),
  }),
});

const EventConnection = connectionOf('Event', EventRef);

builder.queryFields((t) => ({
  events: t.field({
    type: EventConnection,
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, { data }) => {
      const limit = pageSize(args.first);
      const after = decodeCursor(args.after, 3, ([startsAt]) => isIssuedInstant(startsAt!)) as EventCursor | undefined;
      const rows = await data.run((db) => listEvents(db, data.scope, { limit: limit + 1, after }));
      return toConnection(rows, limit, (row) => [row.startsAt.toISOString(), row.tenantId, row.id]);
    },
  }),
  event: t.field({
    type: EventRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, { data }) => {
      const id = String(args.id);
      const rows = isLookupableId(id) ? await data.run((db) => findEventsById(db, data.scope, id)) : [];
      // Another tenant's event and a missing one give the same answer.
      if (rows.length !== 1) throw new NotFoundError('Event');
      return rows[0]!;
    },
  }),
}));
