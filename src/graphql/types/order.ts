import { findOrdersById } from '../../db/queries/orders.js';
import { NotFoundError } from '../../errors.js';
import { builder, personal } from '../builder.js';
import { isLookupableId } from '../pagination.js';
import { EventRef, OrderRef, TicketRef } from './refs.js';

OrderRef.implement({
  extensions: personal,
  fields: (t) => ({
    id: t.exposeID('id'),
    event: t.field({
      type: EventRef,
      resolve: async (order, _args, { data }) => {
        const event = await data.event.load({ tenantId: order.tenantId, id: order.eventId });
        // The foreign key guarantees the event; its absence means the scope hides it.
        if (event === undefined) throw new NotFoundError('Event');
        return event;
      },
    }),
    placedAt: t.expose('placedAt', { type: 'DateTime' }),
    totalCents: t.exposeInt('totalCents', { nullable: true }),
    currency: t.exposeString('currency', { nullable: true }),
    status: t.exposeString('status', { nullable: true }),
    paymentRef: t.exposeString('paymentRef', { nullable: true }),
    tickets: t.field({
      type: [TicketRef],
      resolve: (order, _args, { data }) => data.ticketsOfOrder.load({ tenantId: order.tenantId, id: order.id }),
    }),
  }),
});

TicketRef.implement({
  extensions: personal,
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type'),
    checkedInAt: t.expose('checkedInAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('order', (t) =>
  t.field({
    type: OrderRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, { data }) => {
      const id = String(args.id);
      const rows = isLookupableId(id) ? await data.run((db) => findOrdersById(db, data.scope, id)) : [];
      if (rows.length !== 1) throw new NotFoundError('Order');
      return rows[0]!;
    },
  }),
);
