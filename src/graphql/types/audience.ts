import { audienceCounts, marketingAudience, type AudienceBucketRow, type AudienceDimension, type MarketingMemberRow } from '../../db/queries/audience.js';
import { FieldNotPermittedError } from '../../errors.js';
import { builder, personal } from '../builder.js';
import { eventInScope } from '../event-in-scope.js';
import { decodeCursor, isAttendeeIdCursor, pageSize, toConnection } from '../pagination.js';
import { connectionOf } from './connection.js';

const AudienceDimensionEnum = builder.enumType('AudienceDimension', {
  values: ['AGE_RANGE', 'COUNTRY', 'TICKET_TYPE'] as const,
  description: 'AGE_RANGE and COUNTRY (of residency) describe people; TICKET_TYPE counts people holding a ticket of the type.',
});

const AudienceBucketRef = builder.objectRef<AudienceBucketRow>('AudienceBucket').implement({
  description:
    'People per value. Buckets under the minimum group size (5) are hidden, and reported together as one bucket with value ' +
    'SUPPRESSED and `suppressed: true` holding their total (always 5 or more); the smallest visible buckets are hidden too ' +
    'when needed, so that no total minus the visible buckets recovers a hidden count. Fewer than 5 people in all: no bucket.',
  fields: (t) => ({
    value: t.exposeString('value'),
    count: t.exposeInt('people', { nullable: true }),
    suppressed: t.exposeBoolean('suppressed'),
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
      const rows = await data.run((db) => marketingAudience(db, data.scope, { limit: limit + 1, after, event }));
      return toConnection(rows, limit, (row) => [row.tenantId, row.attendeeId]);
    },
  }),
  audienceBreakdown: t.field({
    type: [AudienceBucketRef],
    args: { eventId: t.arg.id(), dimension: t.arg({ type: AudienceDimensionEnum, required: true }) },
    resolve: async (_root, args, { data, decision, trail }) => {
      const dimension: AudienceDimension = args.dimension;
      // The dimension may arrive in a variable, so this check cannot wait for validation; it
      // still runs before anything is read (and the database refuses it again).
      const category = decision.aggregateCategory(dimension);
      if (category === undefined || !decision.canAggregate(dimension)) {
        throw new FieldNotPermittedError(decision.purpose, [`Query.audienceBreakdown(dimension: ${dimension})`]);
      }
      const event = await eventInScope(data, args.eventId);
      const buckets = await data.run((db) => audienceCounts(db, dimension, event));
      trail.aggregate('Query.audienceBreakdown', dimension, category);
      return buckets;
    },
  }),
}));
