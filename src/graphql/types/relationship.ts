import { builder, personal } from '../builder.js';
import { AttendeeRef, RelationshipRef } from './refs.js';

const RelationshipDirection = builder.enumType('RelationshipDirection', {
  values: ['OUTGOING', 'INCOMING'] as const,
  description: 'OUTGOING: this attendee is the relationship\'s source (for example, referred the other).',
});

RelationshipRef.implement({
  extensions: personal,
  fields: (t) => ({
    kind: t.string({ resolve: ({ row }) => row.kind }),
    direction: t.field({
      type: RelationshipDirection,
      resolve: ({ row, of }) => (row.fromAttendeeId === of.id ? 'OUTGOING' : 'INCOMING'),
    }),
    attendee: t.field({
      type: AttendeeRef,
      nullable: true,
      description: 'The other attendee of the relationship; null where the caller may not see them (a data subject sees only themself).',
      resolve: async ({ row, of }, _args, { data }) => {
        const otherId = row.fromAttendeeId === of.id ? row.toAttendeeId : row.fromAttendeeId;
        return (await data.attendee.load({ tenantId: row.tenantId, id: otherId })) ?? null;
      },
    }),
  }),
});
