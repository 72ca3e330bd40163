import { audienceCounts, marketingAudience, type AudienceDimension, type MarketingMemberRow } from '../../db/queries/audience.js';
import { FieldNotPermittedError } from '../../errors.js';
import { builder, personal } from '../builder.js';
import { eventInScope } from '../event-in-scope.js';
import { decodeCursor, isAttendeeIdCursor, pageSize, toConnection } from '../pagination.js';
import { connectionOf } from './connection.js';

const AudienceDimensionEnum = builder.enumType('AudienceDimension', {
  values: ['AGE_RANGE', 'COUNTRY', 'TICKET_TYPE'] as const,
  description: 'AGE_RANGE and COUNTRY (of residency) describe people; TICKET_TYPE counts people holding a ticket of the type.',
});

const AudienceBucketRef = builder.objectRef<{ value: string; count: number | null }>('AudienceBucket').implement({
  description: 'People per value; `count` is null when fewer people than the minimum group size (5) share it.',
  fields: (t) => ({
    value: t.exposeString('value'),
    count: t.exposeInt('count', { nullable: true }),
  }),
});

const MarketingAudienceMemberRef = builder.objectRef<MarketingMemberRow>('MarketingAudienceMember').implement({
  extensions: personal,
  description: 'One consenting person, as the SHA-256 (hex) of their trimmed, lower-cased email.',
  fields: (t) => ({ emailSha256: t.exposeString('emailSha256') }),
});

const MarketingAudienceConnection = connectionOf('MarketingAudience', MarketingAudienceMemberRef);

builder.queryFields((t) => ({
  marketingAudience: t.field({
    type: MarketingAudienceConnection,
    description: 'Hashed emails of the people who consented to marketing (and did not opt out, object or restrict).',
    args: { eventId: t.arg.id(), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, { data }) => {
      const limit = pageSize(args.first);
      const after = decodeCursor(args.after, 2, isAttendeeIdCursor) as [string, string] | undefined;
      const event = await eventInScope(data, args.eventId);
      const rows = await data.run((db) => marketingAudience(db, data.scope, { limit: limit + 1, after, event }, data.personReads));
      return toConnection(rows, limit, (row) => [row.tenantId, row.attendeeId]);
    },
  }),
  audienceBreakdown: t.field({
    type: [AudienceBucketRef],
    args: { eventId: t.arg.id(), dimension: t.arg({ type: AudienceDimensionEnum, required: true }) },
    resolve: async (_root, args, { data, decision }) => {
      const dimension: AudienceDimension = args.dimension;
      // The dimension may arrive in a variable, so this check cannot wait for validation; it
      // still runs before anything is read.
      if (!decision.canAggregate(dimension)) {
        throw new FieldNotPermittedError(decision.purpose, [`Query.audienceBreakdown(dimension: ${dimension})`]);
      }
      const event = await eventInScope(data, args.eventId);
      const counts = await data.run((db) => audienceCounts(db, data.scope, dimension, event, data.personReads));
      return counts.map(({ value, people }) => ({ value, count: people >= decision.minimumGroupSize ? people : null }));
    },
  }),
}));
