import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PERSON_TABLES, TENANT_TABLES } from '../src/db/tables.js';
import { loadPolicyFile } from '../src/policy/policy.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { POLICY_FILE, startTestGateway, type GraphQLResponse, type TestGateway } from './support/test-gateway.js';
import { createTestKeys } from './support/test-keys.js';

const A = 'northwind-live';
const B = 'harbor-jazz';
/** Gets 510 extra attendees so that the 500 cap on `first` is observable. */
const BIG = 'civic-theatre';
const PURPOSE = 'ticketing';

/** Every code point kind that trips encoders: astral emoji, ZWJ sequences, RTL, combining marks. */
const LONG_UNICODE = Array.from(
  '🎟️👩‍👩‍👧‍👦 שלום עולם مرحبا بالعالم e\u0301\u0302\u0303\u0304 \u202Egnp.exe\u202C 漢字テスト 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ',
  // Array.from walks code points, so slicing below never splits a surrogate pair.
)
  .join('')
  .repeat(200);
const longUnicode = Array.from(LONG_UNICODE).slice(0, 5000).join('');

const INJECTIONS: readonly (readonly [label: string, value: string])[] = [
  ['tautology', "' or '1'='1"],
  ['stacked set', "'; set app.tenant_id = 'northwind-live'; --"],
  ['stacked set_config', "'); select set_config('app.tenant_id','northwind-live',false); --"],
  ['stacked drop', "1; drop table events; --"],
  ['NUL', '\u0000'],
  ['embedded NUL', 'a\u0000b'],
  ['escaped NUL text', '\\u0000'],
  ['CRLF header smuggling', '\r\nX-Purpose: marketing'],
  ['percent NUL', '%00'],
  ['10 000 chars', 'x'.repeat(10_000)],
  ['5 000 chars of unicode', longUnicode],
  ['template', '${process.env.DATABASE_URL}'],
  ['template expression', "${1+1}'"],
  ['backslashes', '\\\\\\\'\\"\\n\\'],
  ['backslash quote', "\\'; --"],
  ['UUID with trailing quote', `${randomUUID()}'`],
  ['commented id', "evt-nl-1' --"],
  ['tenant name', A],
  ['another tenant\'s event id', 'evt-nl-1'],
];

/** A GraphQL string literal for any string: quotes, backslashes and control characters escaped. */
function graphqlString(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '"') out += '\\"';
    else if (char === '\\') out += '\\\\';
    else if (code < 0x20 || code === 0x7f) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += char;
  }
  return `${out}"`;
}

const forgeCursor = (position: readonly string[]): string => Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');

interface Target {
  name: string;
  field: string;
  type: string;
  selection: (argument: string) => string;
}

const TARGETS: readonly Target[] = [
  { name: 'event(id)', field: 'event', type: 'ID!', selection: (v) => `event(id: ${v}) { id name }` },
  { name: 'attendee(id)', field: 'attendee', type: 'ID!', selection: (v) => `attendee(id: ${v}) { id name orders { id } }` },
  { name: 'order(id)', field: 'order', type: 'ID!', selection: (v) => `order(id: ${v}) { id event { id } tickets { id } }` },
  { name: 'attendees(eventId)', field: 'attendees', type: 'ID', selection: (v) => `attendees(eventId: ${v}) { edges { node { id } } }` },
  { name: 'attendees(after)', field: 'attendees', type: 'String', selection: (v) => `attendees(after: ${v}) { edges { node { id } } }` },
  { name: 'events(after)', field: 'events', type: 'String', selection: (v) => `events(after: ${v}) { edges { node { id } } }` },
];

const viaVariable = (target: Target) => `query Injected($v: ${target.type}) { ${target.selection('$v')} }`;
const inlined = (target: Target, value: string) => `query Injected { ${target.selection(graphqlString(value))} }`;

/** Text that would mean a database or runtime error reached the client. */
const LEAK_PATTERNS = [/syntax error/i, /invalid input/i, /relation/i, /column/i, /invalid byte sequence/i, /unexpected error/i, /postgres|pglite|sqlstate/i];

/** Every `id` anywhere in a response's data. */
function idsIn(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) idsIn(item, into);
  else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'id' && typeof child === 'string') into.push(child);
      else idsIn(child, into);
    }
  }
  return into;
}

describe.each(DATABASE_KINDS)('injection through arguments and headers (%s)', (kind) => {
  let database: TestDatabase;
  let gateway: TestGateway;
  let tokenB: string;
  let tokenBig: string;
  /** Ids of every tenant-owned row of B; anything else in a response to B is a leak. */
  let ownIds: Set<string>;
  let foreignIds: Set<string>;
  let baseline: Record<string, number>;

  const countRows = async (): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {};
    for (const table of [...TENANT_TABLES, ...PERSON_TABLES, 'tenants'] as const) {
      const row = await database.owner.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<string>().as('n'))
        .executeTakeFirstOrThrow();
      counts[table] = Number(row.n);
    }
    for (const tenant of [A, B, BIG]) {
      for (const table of TENANT_TABLES) {
        const row = await database.owner.db
          .selectFrom(table)
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('tenant_id', '=', tenant)
          .executeTakeFirstOrThrow();
        counts[`${tenant}.${table}`] = Number(row.n);
      }
    }
    return counts;
  };

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    await database.owner.db
      .insertInto('attendees')
      .values(Array.from({ length: 510 }, () => ({ tenant_id: BIG, person_id: null })))
      .execute();
    const keys = await createTestKeys();
    gateway = await startTestGateway({ database: database.app, auth: keys.auth });
    tokenB = await keys.sign({ sub: 'admin@harbor', roles: ['organizer_admin'], tenant: B });
    tokenBig = await keys.sign({ sub: 'admin@civic', roles: ['organizer_admin'], tenant: BIG });
    const idsOf = async (tenant: string, other: boolean) => {
      const ids: string[] = [];
      for (const table of ['events', 'attendees', 'orders', 'tickets'] as const) {
        const rows = await database.owner.db
          .selectFrom(table)
          .select('id')
          .where('tenant_id', other ? '!=' : '=', tenant)
          .execute();
        ids.push(...rows.map((r) => String(r.id)));
      }
      return new Set(ids);
    };
    ownIds = await idsOf(B, false);
    foreignIds = await idsOf(B, true);
    baseline = await countRows();
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  const askB = (query: string, variables?: Record<string, unknown>, purpose = PURPOSE) =>
    gateway.request({ query, variables, token: tokenB, purpose });

  function expectContained(response: GraphQLResponse, injected: string, options: { sizeLimitAllowed?: boolean } = {}) {
    const errors = response.body.errors ?? [];
    const allowed = ['NOT_FOUND', 'BAD_USER_INPUT', ...(options.sizeLimitAllowed ? ['QUERY_TOO_COMPLEX'] : [])];
    for (const error of errors) {
      expect(allowed, `code of "${error.message}"`).toContain(error.extensions?.code);
      for (const pattern of LEAK_PATTERNS) expect(error.message).not.toMatch(pattern);
      if (injected.length >= 3) expect(error.message).not.toContain(injected);
    }
    if (errors.length === 0) expect(response.status).toBe(200);
    else if (errors.some((e) => e.extensions?.code === 'NOT_FOUND')) expect(response.status).toBe(200);
    else expect([200, 400]).toContain(response.status);
    const ids = idsIn(response.body.data);
    expect(ids.filter((id) => foreignIds.has(id) && !ownIds.has(id))).toEqual([]);
    expect(ids.every((id) => ownIds.has(id))).toBe(true);
  }

  describe('positive controls: the same query shapes answer valid arguments', () => {
    it.each(TARGETS.map((t) => [t.name, t] as const))('%s', async (_name, target) => {
      const attendee = (await database.owner.db.selectFrom('attendees').select('id').where('tenant_id', '=', B).orderBy('id').executeTakeFirstOrThrow()).id;
      const order = (await database.owner.db.selectFrom('orders').select('id').where('tenant_id', '=', B).orderBy('id').executeTakeFirstOrThrow()).id;
      const cursorOf = async (field: 'events' | 'attendees') => {
        const response = await askB(`{ ${field}(first: 1) { pageInfo { endCursor } } }`);
        return (response.body.data as Record<string, { pageInfo: { endCursor: string } }>)[field]!.pageInfo.endCursor;
      };
      const valid: Record<string, string> = {
        'event(id)': 'evt-hj-1',
        'attendee(id)': attendee,
        'order(id)': order,
        'attendees(eventId)': 'evt-hj-1',
        'attendees(after)': await cursorOf('attendees'),
        'events(after)': await cursorOf('events'),
      };
      const value = valid[target.name]!;
      for (const response of [await askB(viaVariable(target), { v: value }), await askB(inlined(target, value))]) {
        expect(response.status).toBe(200);
        expect(response.body.errors).toBeUndefined();
        const ids = idsIn(response.body.data);
        expect(ids.length).toBeGreaterThan(0);
        expect(ids.every((id) => ownIds.has(id))).toBe(true);
      }
    });
  });

  describe.each(TARGETS.map((t) => [t.name, t] as const))('%s', (_name, target) => {
    it.each(INJECTIONS)('%s, as a variable', async (_label, value) => {
      expectContained(await askB(viaVariable(target), { v: value }), value);
    });
    it.each(INJECTIONS)('%s, inlined as a string literal', async (_label, value) => {
      expectContained(await askB(inlined(target, value)), value, { sizeLimitAllowed: true });
    });
  });

  // A client can forge a well-formed cursor whose positions carry the same strings.
  describe('well-formed cursors carrying injection strings', () => {
    const attendeesAfter = viaVariable(TARGETS.find((t) => t.name === 'attendees(after)')!);
    const eventsAfter = viaVariable(TARGETS.find((t) => t.name === 'events(after)')!);
    it.each(INJECTIONS)('attendees(after: [tenant, %s])', async (_label, value) => {
      expectContained(await askB(attendeesAfter, { v: forgeCursor([B, value]) }), value);
      expectContained(await askB(attendeesAfter, { v: forgeCursor([value, randomUUID()]) }), value);
    });
    it.each(INJECTIONS)('events(after: [%s, tenant, id])', async (_label, value) => {
      expectContained(await askB(eventsAfter, { v: forgeCursor([value, B, 'evt-hj-1']) }), value);
      expectContained(await askB(eventsAfter, { v: forgeCursor(['2026-01-01T00:00:00.000Z', value, value]) }), value);
    });
  });

  describe('X-Purpose header', () => {
    const declaredPurposes = loadPolicyFile(POLICY_FILE).purposes;
    // fetch refuses NUL, CR and LF in header values and anything outside Latin-1.
    const sendable = INJECTIONS.filter(([, value]) => [...value].every((c) => c.codePointAt(0)! >= 0x20 && c.codePointAt(0)! <= 0xff));
    const extra: [string, string][] = [
      ['purpose with injection', "ticketing' or '1'='1"],
      ['two purposes', 'ticketing, marketing'],
      ['upper case', 'TICKETING'],
      ['another role\'s purpose', 'security-audit'],
    ];
    it('control: the header as sent by these tests is accepted when valid', async () => {
      const response = await askB('{ viewer { purpose tenant } }');
      expect(response.status).toBe(200);
      expect(response.body.data).toEqual({ viewer: { purpose: PURPOSE, tenant: B } });
    });
    it.each([...sendable, ...extra])('%s is refused with 403', async (_label, value) => {
      const response = await askB('{ events { edges { node { id } } } }', undefined, value);
      expect(response.status).toBe(403);
      expect(response.body.data ?? null).toBeNull();
      expect(response.body.errors).toHaveLength(1);
      const error = response.body.errors![0]!;
      expect(['PURPOSE_NOT_PERMITTED', 'PURPOSE_REQUIRED']).toContain(error.extensions?.code);
      // Naming a purpose the policy declares is fine; echoing arbitrary header text is not.
      if (value.trim().length >= 3 && !declaredPurposes.has(value)) expect(error.message).not.toContain(value.trim());
      for (const pattern of LEAK_PATTERNS) expect(error.message).not.toMatch(pattern);
    });
    it('a blank header is PURPOSE_REQUIRED', async () => {
      const response = await askB('{ events { edges { node { id } } } }', undefined, '   ');
      expect(response.status).toBe(403);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('PURPOSE_REQUIRED');
    });
  });

  describe('first', () => {
    it.each([-1, -500, -2147483648])('%i is BAD_USER_INPUT, as a variable and inlined', async (first) => {
      for (const response of [
        await askB('query Q($first: Int) { events(first: $first) { edges { node { id } } } }', { first }),
        await askB(`{ attendees(first: ${first}) { edges { node { id } } } }`),
      ]) {
        expect([200, 400]).toContain(response.status);
        expect(response.body.data ?? null).toBeNull();
        expect(response.body.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
        for (const pattern of LEAK_PATTERNS) expect(response.body.errors![0]!.message).not.toMatch(pattern);
      }
    });

    it.each([501, 100_000, 2147483647])('%i is capped at 500 without an error', async (first) => {
      const total = (await database.owner.db.selectFrom('attendees').select('id').where('tenant_id', '=', BIG).execute()).length;
      expect(total).toBeGreaterThan(500);
      const response = await gateway.request<{ attendees: { edges: unknown[]; pageInfo: { hasNextPage: boolean } } }>({
        query: 'query Q($first: Int) { attendees(first: $first) { edges { node { id } } pageInfo { hasNextPage } } }',
        variables: { first },
        token: tokenBig,
        purpose: PURPOSE,
      });
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data?.attendees.edges).toHaveLength(500);
      expect(response.body.data?.attendees.pageInfo.hasNextPage).toBe(true);
    });
  });

  // Declared last: vitest runs a file's tests in order, so this sees the state after every attempt above.
  describe('after the barrage', () => {
    it('a normal request still answers with exactly the tenant\'s rows', async () => {
      const response = await askB('{ events(first: 500) { edges { node { id } } } attendees(first: 500) { edges { node { id } } } }');
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      const events = await database.owner.db.selectFrom('events').select('id').where('tenant_id', '=', B).execute();
      const attendees = await database.owner.db.selectFrom('attendees').select('id').where('tenant_id', '=', B).execute();
      expect(idsIn(response.body.data).sort()).toEqual([...events, ...attendees].map((r) => r.id).sort());
    });

    it('left every table\'s rows as they were', async () => {
      expect(await countRows()).toEqual(baseline);
    });
  });
});
