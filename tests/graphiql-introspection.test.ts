import { getIntrospectionQuery, validateSchema, isObjectType, isInterfaceType } from 'graphql';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withScope } from '../src/db/request-scope.js';
import { schemaForDecision } from '../src/graphql/schema-for-purpose.js';
import { gatewaySchema } from '../src/graphql/schema.js';
import { createDecisionCache } from '../src/policy/access-decision.js';
import { loadPolicyFile } from '../src/policy/policy.js';
import { GRAPHIQL_QUERY } from '../src/server.js';
import { POLICY_FILE, startTestGateway, type TestGateway } from './support/test-gateway.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

const policy = loadPolicyFile(POLICY_FILE);
const decide = createDecisionCache(policy);

interface IntrospectedType {
  name: string;
  kind: string;
  fields: { name: string; args: { name: string }[] }[] | null;
}
const fieldsOf = (types: IntrospectedType[], name: string) => types.find((t) => t.name === name)?.fields?.map((f) => f.name) ?? null;

describe('each role and purpose has a schema of its own', () => {
  const schema = gatewaySchema();
  const pairs = [...policy.roles].flatMap(([role, rolePolicy]) => rolePolicy.purposes.map((purpose) => [role, purpose] as const));

  it.each(pairs)('%s / %s: a valid schema naming only fields the purpose may read', (role, purpose) => {
    const decision = decide(role, purpose);
    const own = schemaForDecision(schema, decision);
    expect(validateSchema(own)).toEqual([]);
    let fields = 0;
    for (const type of Object.values(own.getTypeMap())) {
      if (type.name.startsWith('__') || !(isObjectType(type) || isInterfaceType(type))) continue;
      for (const field of Object.keys(type.getFields())) {
        const owners = isInterfaceType(type) ? own.getPossibleTypes(type).map((t) => t.name) : [type.name];
        for (const owner of owners) expect(decision.canRead(owner, field), `${owner}.${field}`).toBe(true);
        fields += 1;
      }
    }
    expect(fields).toBeGreaterThan(0);
  });
});

describe.each(DATABASE_KINDS)('GraphiQL and introspection in development (%s)', (kind) => {
  let database: TestDatabase;
  let keys: TestKeys;
  let gateway: TestGateway;
  let production: TestGateway;
  const accessLogCount = () =>
    withScope(database.owner.db, { kind: 'maintenance' }, (trx) => sql<{ n: string }>`select count(*)::text as n from access_log`.execute(trx)).then((r) => Number(r.rows[0]!.n));

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    keys = await createTestKeys();
    gateway = await startTestGateway({ database: database.app, auth: keys.auth });
    production = await startTestGateway({ database: database.app, auth: keys.auth, production: true });
  });
  afterAll(async () => {
    await gateway?.close();
    await production?.close();
    await database?.destroy();
  });

  it('serves GraphiQL with its scripts inline (no CDN) and the project\'s default query, which runs', async () => {
    const page = await fetch(gateway.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<title>Custodian</title>');
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/i);
    expect(html).not.toMatch(/<link[^>]+href=["']https?:/i);
    expect(html).not.toMatch(/unpkg\.com|jsdelivr\.net|cdnjs/);
    expect(html).not.toContain('__TITLE__');
    // The options GraphiQL starts with: our query, our headers.
    expect(html).toContain(JSON.stringify(GRAPHIQL_QUERY));
    const token = await keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
    const answer = await gateway.request({ query: GRAPHIQL_QUERY, token, purpose: 'ticketing' });
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data).toMatchObject({ viewer: { role: 'organizer_admin', purpose: 'ticketing' } });
  });

  it("answers GraphiQL's full introspection query for a verified caller with only its purpose's fields, and logs no read", async () => {
    const before = await accessLogCount();
    const staff = await keys.sign({ roles: ['organizer_staff'], tenant: 'northwind-live' });
    const answer = await gateway.request<{ __schema: { types: IntrospectedType[]; mutationType: { name: string } | null } }>({
      query: getIntrospectionQuery(),
      token: staff,
      purpose: 'event-checkin',
    });
    expect(answer.status).toBe(200);
    expect(answer.body.errors).toBeUndefined();
    const types = answer.body.data!.__schema.types;
    const attendee = fieldsOf(types, 'Attendee')!;
    expect(attendee).toEqual(expect.arrayContaining(['name', 'email', 'orders']));
    for (const hidden of ['phone', 'billingAddress', 'company']) expect(attendee).not.toContain(hidden);
    expect(fieldsOf(types, 'Order')).not.toContain('totalCents');
    expect(fieldsOf(types, 'Query')).not.toContain('accessLog');
    expect(fieldsOf(types, 'Address')).toBeNull();

    const officer = await keys.sign({ roles: ['privacy_officer'] });
    const full = await gateway.request<{ __schema: { types: IntrospectedType[] } }>({ query: getIntrospectionQuery(), token: officer, purpose: 'legal-compliance' });
    expect(fieldsOf(full.body.data!.__schema.types, 'Query')).toContain('dataSubject');

    expect(await accessLogCount()).toBe(before);
  });

  it('__type and a mixed operation answer from the caller\'s schema too', async () => {
    const staff = await keys.sign({ roles: ['organizer_staff'], tenant: 'northwind-live' });
    const answer = await gateway.request<{ __type: { fields: { name: string }[] }; viewer: { purpose: string } }>({
      query: '{ viewer { purpose } __type(name: "Attendee") { fields { name } } }',
      token: staff,
      purpose: 'event-checkin',
    });
    expect(answer.status).toBe(200);
    expect(answer.body.data!.viewer.purpose).toBe('event-checkin');
    expect(answer.body.data!.__type.fields.map((f) => f.name)).not.toContain('phone');
  });

  it('still refuses introspection without a verified token', async () => {
    const answer = await gateway.request({ query: '{ __schema { queryType { name } } }' });
    expect(answer.status).toBe(401);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('production keeps introspection off and serves no GraphiQL', async () => {
    const token = await keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' });
    const answer = await production.request({ query: '{ __schema { queryType { name } } }', token, purpose: 'ticketing' });
    expect(answer.body.data ?? null).toBeNull();
    expect(JSON.stringify(answer.body.errors)).toMatch(/introspection/i);
    const page = await fetch(production.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).not.toContain('GraphiQL');
  });
});
