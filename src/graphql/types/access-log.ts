import { allAccessLog, listAccessLog, type AccessLogFilter, type AccessLogRow } from '../../db/queries/access-log.js';
import { breachScopeOf, type BreachPerson } from '../../audit/breach-scope.js';
import { OUTCOMES } from '../../audit/entry-hash.js';
import { entryForPerson } from '../../audit/person-view.js';
import { BadUserInputError } from '../../errors.js';
import { builder, personal } from '../builder.js';
import { decodeCursor, isIssuedInstant, isLookupableId, pageSize, toConnection } from '../pagination.js';
import { connectionOf } from './connection.js';
import { DataSubjectRef } from './data-subject.js';

const AccessLogEntryRef = builder.objectRef<AccessLogRow>('AccessLogEntry').implement({
  extensions: personal,
  description: 'One request that read personal data (or was refused): who, for what, which people and fields.',
  fields: (t) => ({
    id: t.exposeID('seq', { description: 'The position in the hash chain.' }),
    at: t.expose('at', { type: 'DateTime' }),
    actor: t.exposeString('actor', { description: "The token's sub." }),
    role: t.exposeString('role'),
    tenant: t.exposeString('tenantId', { nullable: true }),
    purpose: t.exposeString('purpose'),
    operationName: t.exposeString('operationName', { nullable: true }),
    requestId: t.exposeString('requestId'),
    tokenId: t.exposeString('tokenId', { nullable: true, description: "The token's jti." }),
    clientAddress: t.exposeString('clientAddress', { nullable: true }),
    subjects: t.exposeIDList('subjects', { description: 'Person ids read.' }),
    fields: t.exposeStringList('fields', { description: '`Type.field` names returned (or refused, for DENIED).' }),
    masked: t.exposeStringList('masked', { description: '`Type.field:REASON` for what was masked.' }),
    outcome: t.exposeString('outcome', { description: 'ALLOWED, DENIED or ERROR.' }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    correlationId: t.exposeString('correlationId', { nullable: true, description: "The caller's X-Request-Id, kept beside requestId (the gateway's own)." }),
    aggregates: t.exposeStringList('aggregates', { description: 'Aggregate reads, `DIMENSION:category`; they read no one person.' }),
    prevHash: t.exposeString('prevHash', { nullable: true, description: 'Null in a per-person view.' }),
    hash: t.exposeString('hash', {
      description: "The entry's chain hash; in a per-person view (a privacy officer's, a person's own) the digest of what the view shows.",
    }),
  }),
});

const AccessLogConnection = connectionOf('AccessLog', AccessLogEntryRef);

const AccessLogFilterInput = builder.inputType('AccessLogFilter', {
  fields: (t) => ({
    subjectId: t.id({ description: 'A person id: their history across tenants.' }),
    actor: t.string(),
    tenant: t.string(),
    purpose: t.string(),
    tokenId: t.string({ description: "A token's jti." }),
    from: t.field({ type: 'DateTime' }),
    to: t.field({ type: 'DateTime', description: 'Exclusive.' }),
    outcome: t.string({ description: 'ALLOWED, DENIED or ERROR.' }),
  }),
});

interface FilterInput {
  subjectId?: string | number | null;
  actor?: string | null;
  tenant?: string | null;
  purpose?: string | null;
  tokenId?: string | null;
  from?: Date | null;
  to?: Date | null;
  outcome?: string | null;
}

export function toFilter(input: FilterInput | null | undefined): AccessLogFilter {
  const text = (name: string, value: string | number | null | undefined) => {
    if (value === null || value === undefined) return undefined;
    const string = String(value);
    if (!isLookupableId(string)) throw new BadUserInputError(`filter.${name} is not a value this log can hold.`);
    return string;
  };
  const outcome = input?.outcome ?? undefined;
  if (outcome !== undefined && !(OUTCOMES as readonly string[]).includes(outcome)) {
    throw new BadUserInputError('filter.outcome must be ALLOWED, DENIED or ERROR.');
  }
  if (input?.from && input.to && input.from >= input.to) throw new BadUserInputError('filter.from must be before filter.to.');
  return {
    subjectId: text('subjectId', input?.subjectId),
    actor: text('actor', input?.actor),
    tenantId: text('tenant', input?.tenant),
    purpose: text('purpose', input?.purpose),
    tokenId: text('tokenId', input?.tokenId),
    from: input?.from ?? undefined,
    to: input?.to ?? undefined,
    outcome: outcome as AccessLogFilter['outcome'],
  };
}

const cursorOf = (row: AccessLogRow) => [row.at.toISOString(), row.seq];
const isLogCursor = ([at, seq]: readonly string[]) => isIssuedInstant(at!) && /^\d{1,19}$/.test(seq!);

builder.queryField('accessLog', (t) =>
  t.field({
    type: AccessLogConnection,
    // Reading the log is itself a read to log, even when it finds nothing.
    extensions: personal,
    description: 'The access log, newest first. Privacy officers read one person at a time (filter.subjectId).',
    args: { filter: t.arg({ type: AccessLogFilterInput }), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, { caller, data }) => {
      const filter = toFilter(args.filter);
      const perPerson = caller.purpose !== 'security-audit';
      if (perPerson && filter.subjectId === undefined) {
        throw new BadUserInputError('For legal-compliance, the access log is read per person: set filter.subjectId.');
      }
      const limit = pageSize(args.first);
      const before = decodeCursor(args.after, 2, isLogCursor) as [string, string] | undefined;
      const rows = await data.run((db) => listAccessLog(db, filter, { limit: limit + 1, before }));
      // Security reviewers see entries whole; anyone else one person at a time, that person only.
      const shown = perPerson ? rows.map((row) => entryForPerson(row, filter.subjectId!, false)) : rows;
      return toConnection(shown, limit, cursorOf);
    },
  }),
);

builder.objectField(DataSubjectRef, 'accessHistory', (t) =>
  t.field({
    type: AccessLogConnection,
    description: "Who read this person's data, for what, and when; newest first.",
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (person, args, { caller, data }) => {
      const limit = pageSize(args.first);
      const before = decodeCursor(args.after, 2, isLogCursor) as [string, string] | undefined;
      const rows = await data.run((db) => listAccessLog(db, { subjectId: person.personId }, { limit: limit + 1, before }));
      // A person's history names only them: who else was read in the same request is not theirs
      // to know, nor the reading staff member's token or address.
      const own = rows.map((row) => entryForPerson(row, person.personId, caller.purpose === 'self-service'));
      return toConnection(own, limit, cursorOf);
    },
  }),
);

const BreachPersonRef = builder.objectRef<BreachPerson>('BreachPerson').implement({
  extensions: personal,
  fields: (t) => ({
    personId: t.exposeID('personId'),
    categories: t.exposeStringList('categories', { description: 'Data categories read unmasked.' }),
    reads: t.exposeInt('reads', { description: 'Entries that read this person unmasked.' }),
  }),
});

export const BreachCategoryRef = builder.objectRef<{ category: string; people: number }>('BreachCategory').implement({
  fields: (t) => ({ category: t.exposeString('category'), people: t.exposeInt('people') }),
});

const BreachScopeRef = builder.objectRef<{ entries: number; people: BreachPerson[]; categories: { category: string; people: number }[] }>('BreachScope').implement({
  description: 'For a breach notice: whose data an actor or token exposed (read unmasked) in a window.',
  fields: (t) => ({
    entries: t.exposeInt('entries', { description: 'Log entries in scope.' }),
    people: t.field({ type: [BreachPersonRef], resolve: (scope) => scope.people }),
    categories: t.field({ type: [BreachCategoryRef], resolve: (scope) => scope.categories }),
  }),
});

builder.queryField('breachScope', (t) =>
  t.field({
    type: BreachScopeRef,
    extensions: personal,
    description: 'The people and data categories an actor (sub) or a token (jti) read unmasked between from and to.',
    args: {
      actor: t.arg.string(),
      jti: t.arg.string(),
      from: t.arg({ type: 'DateTime', required: true }),
      to: t.arg({ type: 'DateTime', required: true }),
    },
    resolve: async (_root, args, { data }) => {
      if ((args.actor ?? null) === null && (args.jti ?? null) === null) throw new BadUserInputError('Name an actor or a jti.');
      const filter = toFilter({ actor: args.actor, tokenId: args.jti, from: args.from, to: args.to, outcome: null });
      const entries = await data.run((db) => allAccessLog(db, filter));
      return breachScopeOf(entries);
    },
  }),
);
