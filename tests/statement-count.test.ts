import { describe, expect, it } from 'vitest';
import { createTestDatabase, DATABASE_KINDS } from './support/test-database.js';
import { createTestKeys } from './support/test-keys.js';
import { gatewayFixture, startTestGateway } from './support/test-gateway.js';

const DASHBOARD = `query Dashboard($first: Int) {
  attendees(first: $first) {
    edges { node { id name email consent { marketing } masked { field reason }
      orders { id placedAt totalCents event { id name } tickets { id type checkedInAt } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const INSIGHTS = `query Insights($first: Int) {
  attendees(first: $first) {
    edges { node { id company relationships { kind direction attendee { id name } } orders { id } } }
  }
}`;

describe.each(DATABASE_KINDS)('SQL statements per request do not grow with rows (%s)', (kind) => {
  const fixture = gatewayFixture(kind);

  async function statementsFor(query: string, first: number, purpose: string) {
    const token = await fixture.keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
    const before = fixture.database.app.statements.count;
    const response = await fixture.gateway.request<{ attendees: { edges: unknown[] } }>({ query, variables: { first }, token, purpose });
    expect(response.body.errors).toBeUndefined();
    return { statements: fixture.database.app.statements.count - before, rows: response.body.data!.attendees.edges.length };
  }

  it.each([
    ['ticketing', DASHBOARD],
    ['audience-insights', INSIGHTS],
  ])('%s: 2 attendees and 20 attendees cost the same number of statements', async (purpose, query) => {
    const few = await statementsFor(query, 2, purpose);
    const many = await statementsFor(query, 20, purpose);
    expect(few.rows).toBe(2);
    expect(many.rows).toBe(20);
    // begin, scope, the attendees, at most one statement per kind of child (three in each
    // query), commit. A kind of child with no rows on the page costs nothing, so the bound,
    // not equality, is what must hold whatever the page size.
    expect(few.statements).toBeLessThanOrEqual(7);
    expect(many.statements).toBeLessThanOrEqual(7);
    expect(many.statements).toBeGreaterThanOrEqual(few.statements);
  });

  it.each([
    ['ticketing', DASHBOARD],
    ['audience-insights', INSIGHTS],
  ])("%s: a statement's text is the same for 2 attendees and for 20", async (purpose, query) => {
    const token = await fixture.keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
    const textsFor = (first: number) =>
      fixture.database.app.statements.texts(async () => {
        const response = await fixture.gateway.request({ query, variables: { first }, token, purpose });
        expect(response.body.errors).toBeUndefined();
      });
    const few = await textsFor(2);
    const many = await textsFor(20);
    // The children of 20 attendees are fetched with the very statements that fetched those of 2:
    // keys travel as array parameters, never spliced into the text. (A larger page may need one
    // more kind of statement, such as the attendees at the other end of a relationship; its text
    // is bounded all the same.)
    expect(few.length).toBeGreaterThanOrEqual(4);
    for (const text of few) expect(many).toContain(text);
    const parameters = (text: string) => Math.max(0, ...[...text.matchAll(/\$(\d+)/g)].map((match) => Number(match[1])));
    for (const text of many) expect(parameters(text)).toBeLessThanOrEqual(8);
  });

  it('runs no statement for a request that reads nothing from the database', async () => {
    const token = await fixture.keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
    const before = fixture.database.app.statements.count;
    const response = await fixture.gateway.request({ query: '{ viewer { sub role tenant purpose } }', token, purpose: 'ticketing' });
    expect(response.status).toBe(200);
    expect(fixture.database.app.statements.count).toBe(before);
  });
});

describe.each(DATABASE_KINDS)('a page of every attendee (%s)', (kind) => {
  it('reads 24 attendees with orders, events and tickets in 7 statements', async () => {
    const database = await createTestDatabase(kind);
    const keys = await createTestKeys();
    const gateway = await startTestGateway({ database: database.app, auth: keys.auth });
    try {
      const token = await keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
      const before = database.app.statements.count;
      const response = await gateway.request<{ attendees: { edges: unknown[] } }>({ query: DASHBOARD, variables: { first: 500 }, token, purpose: 'ticketing' });
      expect(response.body.data!.attendees.edges).toHaveLength(24);
      expect(database.app.statements.count - before).toBe(7);
    } finally {
      await gateway.close();
      await database.destroy();
    }
  });
});
