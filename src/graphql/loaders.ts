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

function batchedMany<T>(load: (keys: readonly TenantKey[]) => Promise<T[]>, parentOf: (row: T) => TenantKey[]) {
  return new DataLoader<TenantKey, T[], string>(
    async (keys) => {
      const rows = await load(keys);
      const groups = new Map<string, T[]>();
      for (const row of rows) {
        for (const parent of parentOf(row)) {
          const key = tenantKeyString(parent);
          const group = groups.get(key);
          if (group === undefined) groups.set(key, [row]);
          else group.push(row);
        }
      }
      return keys.map((key) => groups.get(tenantKeyString(key)) ?? []);
    },
    { cacheKeyFn: tenantKeyString },
  );
}

/** Children of people (devices, usage, support cases), one statement per kind per request. */
function batchedByPerson<T extends { personId: string }>(load: (personIds: readonly string[]) => Promise<T[]>) {
  return new DataLoader<string, T[]>(async (personIds) => {
    const groups = new Map<string, T[]>();
    for (const row of await load(personIds)) {
      const group = groups.get(row.personId);
      if (group === undefined) groups.set(row.personId, [row]);
      else group.push(row);
    }
    return personIds.map((id) => groups.get(id) ?? []);
  });
}

/**
 * The data a request may read, all through its one scoped transaction. Resolvers ask for rows
 * here; the SQL lives in db/queries.
 */
export class RequestLoaders {
  constructor(
    readonly transaction: RequestTransaction,
    /** The purpose's consent rules, applied inside every person read. */
    readonly personReads: attendees.PersonReadOptions,
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
    (keys) => this.run((db) => attendees.attendeesByKeys(db, this.scope, keys, this.personReads)),
    (row) => row,
  );

  readonly ordersOfAttendee = batchedMany(
    (keys) => this.run((db) => orders.ordersByAttendees(db, this.scope, keys)),
    (row) => [{ tenantId: row.tenantId, id: row.attendeeId }],
  );

  readonly ticketsOfOrder = batchedMany(
    (keys) => this.run((db) => orders.ticketsByOrders(db, this.scope, keys)),
    (row) => [{ tenantId: row.tenantId, id: row.orderId }],
  );

  readonly devicesOfPerson = batchedByPerson((ids) => this.run((db) => people.devicesOfPeople(db, ids)));

  readonly usageOfPerson = batchedByPerson((ids) => this.run((db) => people.usageOfPeople(db, ids)));

  readonly supportCasesOfPerson = batchedByPerson((ids) => this.run((db) => people.supportCasesOfPeople(db, ids)));

  readonly attendancesOfPerson = batchedByPerson(async (ids) =>
    (await this.run((db) => attendees.attendeesOfPeople(db, this.scope, ids, this.personReads))).map((row) => ({ ...row, personId: row.personId! })),
  );

  readonly relationshipsOfAttendee = batchedMany(
    (keys) => this.run((db) => orders.relationshipsByAttendees(db, this.scope, keys, this.personReads)),
    (row) => [
      { tenantId: row.tenantId, id: row.fromAttendeeId },
      { tenantId: row.tenantId, id: row.toAttendeeId },
    ],
  );
}
