import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { startTestGateway, type GraphQLResponse, type TestGateway } from './support/test-gateway.js';
import { createTestKeys } from './support/test-keys.js';

const A = 'northwind-live';
const B = 'harbor-jazz';
const PURPOSE = 'ticketing';

interface Node {
  id: string;
}
interface Page {
  edges: { cursor: string; node: Node }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
interface OrderShape {
  id: string;
  event: { id: string };
  tickets: { id: string }[];
}

/** The gateway's cursor encoding, rebuilt here so a test can forge positions a client could forge. */
const forgeCursor = (position: readonly string[]): string => Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');

const EVENT_QUERY = 'query Event($id: ID!) { event(id: $id) { id name venue startsAt } }';
const ORDER_QUERY = 'query Order($id: ID!) { order(id: $id) { id totalCents status event { id } tickets { id type } } }';
const ATTENDEE_QUERY = `query Attendee($id: ID!) {
  attendee(id: $id) { id name email orders { id event { id } tickets { id } } }
}`;
const ATTENDEES_QUERY = `query Attendees($eventId: ID, $first: Int, $after: String) {
  attendees(eventId: $eventId, first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const EVENTS_QUERY = `query Events($first: Int, $after: String) {
  events(first: $first, after: $after) {
    edges { cursor node { id } }
    pageInfo { hasNextPage endCursor }
  }
}`;

describe.each(DATABASE_KINDS)('object-level authorization across tenants (%s)', (kind) => {
  let database: TestDatabase;
  let gateway: TestGateway;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    const keys = await createTestKeys();
    gateway = await startTestGateway({ database: database.app, auth: keys.auth });
    for (const tenant of [A, B]) {
      tokens.set(tenant, await keys.sign({ sub: `admin@${tenant}`, roles: ['organizer_admin'], tenant }));
    }
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  const ask = <T = Record<string, unknown>>(tenant: string, query: string, variables: Record<string, unknown>) =>
    gateway.request<T>({ query, variables, token: tokens.get(tenant)!, purpose: PURPOSE });

  const attendeeIdsOf = async (tenant: string): Promise<string[]> =>
    (await database.owner.db.selectFrom('attendees').select('id').where('tenant_id', '=', tenant).orderBy('id').execute()).map(
      (r) => r.id,
    );

  const eventIdsOf = async (tenant: string): Promise<string[]> =>
    (await database.owner.db.selectFrom('events').select('id').where('tenant_id', '=', tenant).execute()).map((r) => r.id);

  /** An attendee of A who holds at least one order, so nested paths have something to leak. */
  // A buyer whose processing is not restricted: a restricted person's orders are masked by consent, not by tenancy.
  const buyerOfA = async (): Promise<string> => {
    const row = await database.owner.db
      .selectFrom('orders')
      .innerJoin('attendees', (j) => j.onRef('attendees.tenant_id', '=', 'orders.tenant_id').onRef('attendees.id', '=', 'orders.attendee_id'))
      .innerJoin('consents', 'consents.person_id', 'attendees.person_id')
      .select('orders.attendee_id')
      .where('orders.tenant_id', '=', A)
      .where('consents.restricted', '=', false)
      .orderBy('orders.attendee_id')
      .executeTakeFirstOrThrow();
    return row.attendee_id;
  };

  const orderOfA = async (): Promise<string> =>
    (await database.owner.db.selectFrom('orders').select('id').where('tenant_id', '=', A).orderBy('id').executeTakeFirstOrThrow()).id;

  async function paginate(tenant: string, query: string, variables: Record<string, unknown>, field: 'events' | 'attendees') {
    const ids: string[] = [];
    let after: string | null = null;
    for (let pageNo = 0; pageNo < 100; pageNo++) {
      const response: GraphQLResponse<Record<string, Page>> = await ask<Record<string, Page>>(tenant, query, {
        ...variables,
        first: 7,
        after,
      });
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      const page = response.body.data![field]!;
      expect(page.edges.length).toBeLessThanOrEqual(7);
      ids.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) return ids;
      expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
      after = page.pageInfo.endCursor;
    }
    throw new Error('pagination did not end');
  }

  /** The refusal of a foreign id must be byte-for-byte the refusal of an id that never existed. */
  function expectNotFound(response: GraphQLResponse, field: string, id: string) {
    expect(response.status).toBe(200);
    const data = response.body.data as Record<string, unknown> | null | undefined;
    expect(data?.[field] ?? null).toBeNull();
    expect(response.body.errors).toHaveLength(1);
    expect(response.body.errors![0]!.extensions?.code).toBe('NOT_FOUND');
    expect(response.body.errors![0]!.path).toEqual([field]);
    expect(JSON.stringify(response.body)).not.toContain(id);
  }

  describe('positive controls: a tenant reads its own objects', () => {
    it('reads its own event', async () => {
      const response = await ask<{ event: { id: string; name: string } }>(A, EVENT_QUERY, { id: 'evt-nl-1' });
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      const owned = await database.owner.db.selectFrom('events').select('name').where('tenant_id', '=', A).where('id', '=', 'evt-nl-1').executeTakeFirstOrThrow();
      expect(response.body.data?.event).toMatchObject({ id: 'evt-nl-1', name: owned.name });
    });

    it('reads its own order with its event and tickets', async () => {
      const id = await orderOfA();
      const response = await ask<{ order: OrderShape }>(A, ORDER_QUERY, { id });
      expect(response.body.errors).toBeUndefined();
      const order = response.body.data!.order;
      const owned = await database.owner.db.selectFrom('orders').select('event_id').where('tenant_id', '=', A).where('id', '=', id).executeTakeFirstOrThrow();
      const tickets = await database.owner.db.selectFrom('tickets').select('id').where('tenant_id', '=', A).where('order_id', '=', id).execute();
      expect(order.id).toBe(id);
      expect(order.event.id).toBe(owned.event_id);
      expect(order.tickets.map((t) => t.id).sort()).toEqual(tickets.map((t) => t.id).sort());
      expect(tickets.length).toBeGreaterThan(0);
    });

    it('reads its own attendee with nested orders, events and tickets matching the database', async () => {
      const id = await buyerOfA();
      const response = await ask<{ attendee: { id: string; orders: OrderShape[] } }>(A, ATTENDEE_QUERY, { id });
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      const attendee = response.body.data!.attendee;
      expect(attendee.id).toBe(id);
      const orders = await database.owner.db
        .selectFrom('orders')
        .select(['id', 'event_id'])
        .where('tenant_id', '=', A)
        .where('attendee_id', '=', id)
        .execute();
      const tickets = await database.owner.db
        .selectFrom('tickets')
        .select(['id', 'order_id'])
        .where('tenant_id', '=', A)
        .where('order_id', 'in', orders.map((o) => o.id))
        .execute();
      expect(orders.length).toBeGreaterThan(0);
      const expected = orders
        .map((o) => ({ id: o.id, event: o.event_id, tickets: tickets.filter((t) => t.order_id === o.id).map((t) => t.id).sort() }))
        .sort((x, y) => x.id.localeCompare(y.id));
      const actual = attendee.orders
        .map((o) => ({ id: o.id, event: o.event.id, tickets: o.tickets.map((t) => t.id).sort() }))
        .sort((x, y) => x.id.localeCompare(y.id));
      expect(actual).toEqual(expected);
    });

    it('lists, for attendees(eventId), exactly the attendees holding an order for that event', async () => {
      const eventId = 'evt-nl-1';
      const holders = await database.owner.db
        .selectFrom('orders')
        .select('attendee_id')
        .distinct()
        .where('tenant_id', '=', A)
        .where('event_id', '=', eventId)
        .execute();
      const listed = await paginate(A, ATTENDEES_QUERY, { eventId }, 'attendees');
      expect(listed.sort()).toEqual(holders.map((h) => h.attendee_id).sort());
      // The filter must actually filter: an event with every attendee would prove nothing.
      expect(holders.length).toBeGreaterThan(0);
      expect(holders.length).toBeLessThan((await attendeeIdsOf(A)).length);
    });
  });

  describe('another tenant\'s ids answer exactly like ids that do not exist', () => {
    it('event(id)', async () => {
      const foreign = await ask(B, EVENT_QUERY, { id: 'evt-nl-1' });
      const missing = await ask(B, EVENT_QUERY, { id: 'evt-does-not-exist' });
      expectNotFound(foreign, 'event', 'evt-nl-1');
      expect(foreign).toEqual(missing);
      // The same query shape does answer for B's own event, so the refusal is about ownership.
      const own = await ask<{ event: Node }>(B, EVENT_QUERY, { id: 'evt-hj-1' });
      expect(own.body.data?.event.id).toBe('evt-hj-1');
    });

    it('attendee(id), including its nested orders', async () => {
      const id = await buyerOfA();
      const foreign = await ask(B, ATTENDEE_QUERY, { id });
      const missing = await ask(B, ATTENDEE_QUERY, { id: randomUUID() });
      expectNotFound(foreign, 'attendee', id);
      expect(foreign).toEqual(missing);
      const own = (await attendeeIdsOf(B))[0]!;
      const ownResponse = await ask<{ attendee: Node }>(B, ATTENDEE_QUERY, { id: own });
      expect(ownResponse.body.data?.attendee.id).toBe(own);
    });

    it('order(id)', async () => {
      const id = await orderOfA();
      const foreign = await ask(B, ORDER_QUERY, { id });
      const missing = await ask(B, ORDER_QUERY, { id: 'ord-nope' });
      expectNotFound(foreign, 'order', id);
      expect(foreign).toEqual(missing);
      const own = await database.owner.db.selectFrom('orders').select('id').where('tenant_id', '=', B).orderBy('id').executeTakeFirstOrThrow();
      const ownResponse = await ask<{ order: Node }>(B, ORDER_QUERY, { id: own.id });
      expect(ownResponse.body.data?.order.id).toBe(own.id);
    });

    it('attendees(eventId: A\'s event)', async () => {
      const foreign = await ask(B, ATTENDEES_QUERY, { eventId: 'evt-nl-1' });
      const missing = await ask(B, ATTENDEES_QUERY, { eventId: 'evt-does-not-exist' });
      expectNotFound(foreign, 'attendees', 'evt-nl-1');
      expect(foreign).toEqual(missing);
      const own = await ask<{ attendees: Page }>(B, ATTENDEES_QUERY, { eventId: 'evt-hj-1' });
      expect(own.body.errors).toBeUndefined();
      expect(own.body.data?.attendees.edges.length).toBeGreaterThan(0);
    });

    it('attendees(after: a cursor forged to point into A\'s keyset)', async () => {
      const aIds = await attendeeIdsOf(A);
      const bIds = await attendeeIdsOf(B);
      // Positioned just before A's first attendee: for A this cursor yields A's rows (control).
      const intoA = forgeCursor([A, '00000000-0000-0000-0000-000000000000']);
      const forA = await ask<{ attendees: Page }>(A, ATTENDEES_QUERY, { after: intoA, first: 500 });
      expect(forA.body.data?.attendees.edges.map((e) => e.node.id).sort()).toEqual(aIds);

      const forB = await ask<{ attendees: Page }>(B, ATTENDEES_QUERY, { after: intoA, first: 500 });
      const nowhere = await ask<{ attendees: Page }>(B, ATTENDEES_QUERY, { after: forgeCursor([A, randomUUID()]), first: 500 });
      expect(forB.status).toBe(200);
      expect(forB.body.data?.attendees.edges).toEqual([]);
      expect(forB).toEqual(nowhere);

      // Positioned before every tenant: the keyset spans A, but B must still see only its own.
      const beforeEveryTenant = await ask<{ attendees: Page }>(B, ATTENDEES_QUERY, { after: forgeCursor(['', '00000000-0000-0000-0000-000000000000']), first: 500 });
      expect(beforeEveryTenant.body.errors).toBeUndefined();
      expect(beforeEveryTenant.body.data?.attendees.edges.map((e) => e.node.id).sort()).toEqual(bIds);
    });

    it('events(after: a cursor forged to start before every tenant) lists only the caller\'s events', async () => {
      const forged = forgeCursor(['1970-01-01T00:00:00.000Z', '', '']);
      const response = await ask<{ events: Page }>(B, EVENTS_QUERY, { after: forged, first: 500 });
      expect(response.body.errors).toBeUndefined();
      expect(response.body.data?.events.edges.map((e) => e.node.id).sort()).toEqual((await eventIdsOf(B)).sort());
    });
  });

  describe('lists hold exactly the caller\'s rows', () => {
    it.each([A, B])('events, paged by 7, are exactly %s\'s events', async (tenant) => {
      const listed = await paginate(tenant, EVENTS_QUERY, {}, 'events');
      const expected = await eventIdsOf(tenant);
      expect(expected.length).toBeGreaterThan(0);
      expect(listed.sort()).toEqual(expected.sort());
    });

    it.each([A, B])('attendees, paged by 7, are exactly %s\'s attendees and no other tenant\'s', async (tenant) => {
      const listed = await paginate(tenant, ATTENDEES_QUERY, {}, 'attendees');
      const expected = await attendeeIdsOf(tenant);
      // More than one page, so the cursor path is exercised.
      expect(expected.length).toBeGreaterThan(7);
      expect(new Set(listed).size).toBe(listed.length);
      expect(listed.sort()).toEqual(expected);
      const others = await database.owner.db.selectFrom('attendees').select('id').where('tenant_id', '!=', tenant).execute();
      expect(others.length).toBeGreaterThan(0);
      const otherIds = new Set(others.map((o) => o.id));
      expect(listed.filter((id) => otherIds.has(id))).toEqual([]);
    });

    it('a cursor issued to A, replayed by B, returns none of A\'s rows', async () => {
      const aIds = new Set(await attendeeIdsOf(A));
      const bIds = new Set(await attendeeIdsOf(B));
      const first = await ask<{ attendees: Page }>(A, ATTENDEES_QUERY, { first: 2 });
      const cursor = first.body.data!.attendees.pageInfo.endCursor!;
      expect(first.body.data!.attendees.pageInfo.hasNextPage).toBe(true);
      // For A the cursor continues into A's rows: the replay below has something to leak.
      const continued = await ask<{ attendees: Page }>(A, ATTENDEES_QUERY, { first: 500, after: cursor });
      expect(continued.body.data!.attendees.edges.length).toBe(aIds.size - 2);

      const replayed = await ask<{ attendees: Page }>(B, ATTENDEES_QUERY, { first: 500, after: cursor });
      expect(replayed.status).toBe(200);
      const ids = replayed.body.data?.attendees.edges.map((e) => e.node.id) ?? [];
      expect(ids.filter((id) => aIds.has(id))).toEqual([]);
      expect(ids.every((id) => bIds.has(id))).toBe(true);

      const eventsFirst = await ask<{ events: Page }>(A, EVENTS_QUERY, { first: 1 });
      const eventCursor = eventsFirst.body.data!.events.pageInfo.endCursor!;
      const eventsReplayed = await ask<{ events: Page }>(B, EVENTS_QUERY, { first: 500, after: eventCursor });
      const aEvents = new Set(await eventIdsOf(A));
      expect((eventsReplayed.body.data?.events.edges ?? []).filter((e) => aEvents.has(e.node.id))).toEqual([]);
    });
  });
});
