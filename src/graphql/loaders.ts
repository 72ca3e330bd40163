import DataLoader from 'dataloader';
import * as attendees from '../db/queries/attendees.js';
import * as events from '../db/queries/events.js';
import * as orders from '../db/queries/orders.js';
import * as people from '../db/queries/people.js';
import { tenantKeyString, type TenantKey } from '../db/queries/tenant-key.js';
import type { RequestTransaction } from '../db/request-transaction.js';

/** One batched statement per kind of child per request: the statement count never grows with rows. */
function batchedOne<T>(load: (keys: readonly TenantKey[]) => Promise<T[]>, keyOf: (row: T) => TenantKey) {
  return new DataLoader<TenantKey, T | undefined, string>(
    async (keys) => {
      const byKey = new Map((await load(keys)).map((row) => [tenantKeyString(keyOf(row)), row]));
      return keys.map((key) => byKey.get(tenantKeyString(key)));
    },
    { cacheKeyFn: tenantKeyString },
  );
}

/** Rows grouped under every parent key they belong to. */
function groupUnder<K, T>(rows: readonly T[], parentsOf: (row: T) => readonly K[], keyString: (key: K) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    for (const parent of parentsOf(row)) {
      const key = keyString(parent);
      const group = groups.get(key);
      if (group === undefined) groups.set(key, [row]);
      else group.push(row);
    }
  }
  return groups;
}

/** Children of many parents, one statement per kind per request. */
function batchedMany<K, T>(
  load: (keys: readonly K[]) => Promise<T[]>,
  parentsOf: (row: T) => readonly K[],
  keyString: (key: K) => string,
) {
  return new DataLoader<K, T[], string>(
    async (keys) => {
      const groups = groupUnder(await load(keys), parentsOf, keyString);
      return keys.map((key) => groups.get(keyString(key)) ?? []);
    },
    { cacheKeyFn: keyString },
  );
}

const byTenantKey = <T>(load: (keys: readonly TenantKey[]) => Promise<T[]>, parentsOf: (row: T) => readonly TenantKey[]) =>
  batchedMany(load, parentsOf, tenantKeyString);

/** Children of people (devices, usage, support cases). */
const byPerson = <T extends { personId: string }>(load: (personIds: readonly string[]) => Promise<T[]>) =>
  batchedMany(load, (row: T) => [row.personId], (id: string) => id);

/**
 * The data a request may read, all through its one scoped transaction. Resolvers ask for rows
 * here; the SQL lives in db/queries, and every person-linked read goes through the masking views,
 * which apply the transaction's purpose and each person's state.
 */
export class RequestLoaders {
  constructor(
    readonly transaction: RequestTransaction,
  ) {}

  get scope() {
    return this.transaction.scope;
  }

  async run<T>(query: (db: Awaited<ReturnType<RequestTransaction['get']>>) => Promise<T>): Promise<T> {
    return query(await this.transaction.get());
  }

  readonly event = batchedOne(
    (keys) => this.run((db) => events.eventsByKeys(db, this.scope, keys)),
    (row) => row,
  );

  readonly attendee = batchedOne(
    (keys) => this.run((db) => attendees.attendeesByKeys(db, this.scope, keys)),
    (row) => row,
  );

  readonly ordersOfAttendee = byTenantKey(
    (keys) => this.run((db) => orders.ordersByAttendees(db, this.scope, keys)),
    (row) => [{ tenantId: row.tenantId, id: row.attendeeId }],
  );

  readonly ticketsOfOrder = byTenantKey(
    (keys) => this.run((db) => orders.ticketsByOrders(db, this.scope, keys)),
    (row) => [{ tenantId: row.tenantId, id: row.orderId }],
  );

  readonly devicesOfPerson = byPerson((ids) => this.run((db) => people.devicesOfPeople(db, ids)));

  readonly usageOfPerson = byPerson((ids) => this.run((db) => people.usageOfPeople(db, ids)));

  readonly supportCasesOfPerson = byPerson((ids) => this.run((db) => people.supportCasesOfPeople(db, ids)));

  readonly attendancesOfPerson = byPerson(async (ids) =>
    (await this.run((db) => attendees.attendeesOfPeople(db, this.scope, ids))).map((row) => ({ ...row, personId: row.personId! })),
  );

  readonly relationshipsOfAttendee = byTenantKey(
    (keys) => this.run((db) => orders.relationshipsByAttendees(db, this.scope, keys)),
    (row) => [
      { tenantId: row.tenantId, id: row.fromAttendeeId },
      { tenantId: row.tenantId, id: row.toAttendeeId },
    ],
  );
}
