import { listRetentionRuns, type RetentionCounts, type RetentionRunCursor, type RetentionRunRow } from '../../db/queries/retention-runs.js';
import { builder } from '../builder.js';
import { decodeCursor, isIssuedInstant, pageSize, toConnection } from '../pagination.js';
import { connectionOf } from './connection.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const RetentionCountsRef = builder.objectRef<RetentionCounts>('RetentionCounts').implement({
  description: 'What one run removed, per rule of the retention table.',
  fields: (t) => ({
    accounts: t.exposeInt('accounts', { description: 'People erased (3 years without activity, or an erasure whose hold ended).' }),
    transactions: t.exposeInt('transactions', { description: 'Orders deleted 7 years after they were placed.' }),
    usage: t.exposeInt('usage', { description: 'Usage events deleted after 26 months.' }),
    support: t.exposeInt('support', { description: 'Support cases deleted 2 years after resolution.' }),
    accessLogPartitions: t.exposeInt('accessLogPartitions', { description: 'Monthly access-log partitions dropped after 7 years.' }),
  }),
});

const RetentionRunRef = builder.objectRef<RetentionRunRow>('RetentionRun').implement({
  description: 'One real retention run (dry runs are not recorded).',
  fields: (t) => ({
    id: t.exposeID('id'),
    at: t.expose('at', { type: 'DateTime', description: 'When it ran.' }),
    now: t.expose('appliedAt', { type: 'DateTime', description: 'The instant the periods were applied from (`--now`, or the clock).' }),
    runner: t.exposeString('runner', { description: '`cli`, or `scheduler:<host>:<pid>`.' }),
    counts: t.field({ type: RetentionCountsRef, resolve: (run) => run.counts }),
  }),
});

const RetentionRunConnection = connectionOf('RetentionRun', RetentionRunRef);

builder.queryField('retentionRuns', (t) =>
  t.field({
    type: RetentionRunConnection,
    description: 'Retention runs, newest first (privacy officer).',
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, { data }) => {
      const limit = pageSize(args.first);
      const before = decodeCursor(args.after, 2, ([at, id]) => isIssuedInstant(at!) && UUID.test(id!)) as RetentionRunCursor | undefined;
      const rows = await data.run((db) => listRetentionRuns(db, { limit: limit + 1, before }));
      return toConnection(rows, limit, (run) => [run.at.toISOString(), run.id]);
    },
  }),
);
