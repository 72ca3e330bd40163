import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/test-database.js';
import { gatewayFixture } from './support/test-gateway.js';

const ME = `{ me { id name email phone residency attendances { tenant orders { id tickets { id } } relationships { kind attendee { id name } } } devices { ip } supportCases { id } usage { page } } }`;

interface Me {
  id: string;
  name: string;
  email: string;
  attendances: { tenant: string; orders: { id: string }[]; relationships: { kind: string; attendee: { id: string } | null }[] }[];
  devices: { ip: string }[];
  supportCases: { id: string }[];
  usage: { page: string }[];
}

describe.each(DATABASE_KINDS)('a data subject reads only their own data (%s)', (kind) => {
  const fixture = gatewayFixture(kind);

  const asPerson = async (personId: string, query: string) =>
    fixture.gateway.request<{ me: Me | null; dataSubject?: Me | null; attendees?: { edges: { node: { id: string } }[] } }>({
      query,
      token: await fixture.keys.sign({ roles: ['data_subject'], sub: personId }),
      purpose: 'self-service',
    });

  async function ownerView(personId: string) {
    const db = fixture.database.owner.db;
    const attendees = await db.selectFrom('attendees').select(['tenant_id', 'id']).where('person_id', '=', personId).execute();
    const orders = await db
      .selectFrom('orders')
      .innerJoin('attendees', (j) => j.onRef('attendees.tenant_id', '=', 'orders.tenant_id').onRef('attendees.id', '=', 'orders.attendee_id'))
      .select('orders.id')
      .where('attendees.person_id', '=', personId)
      .execute();
    const cases = await db.selectFrom('support_cases').select('id').where('person_id', '=', personId).execute();
    const usage = await db.selectFrom('usage_events').select('page').where('person_id', '=', personId).execute();
    return { attendees, orders, cases, usage };
  }

  it('me: their profile, every tenant that knows them, their orders, devices, cases and usage', async () => {
    // per-1-0001 is known to several tenants and has a support case.
    const response = await asPerson('per-1-0001', ME);
    expect(response.body.errors).toBeUndefined();
    const me = response.body.data!.me!;
    const expected = await ownerView('per-1-0001');
    expect(me.id).toBe('per-1-0001');
    expect(me.name).toBe('Quinn Fischer');
    expect(me.email).toBe('quinn.fischer.1@example.net');
    expect(me.attendances.map((a) => a.tenant).sort()).toEqual(expected.attendees.map((a) => a.tenant_id).sort());
    expect(me.attendances.flatMap((a) => a.orders.map((o) => o.id)).sort()).toEqual(expected.orders.map((o) => o.id).sort());
    expect(me.supportCases.map((c) => c.id).sort()).toEqual(expected.cases.map((c) => c.id).sort());
    expect(me.usage).toHaveLength(expected.usage.length);
    expect(me.devices).toEqual([{ ip: '203.0.113.33' }]);
  });

  it('sees relationships, but not the other person', async () => {
    const response = await asPerson('per-1-0036', ME);
    const relationships = response.body.data!.me!.attendances.flatMap((a) => a.relationships);
    expect(relationships.length).toBeGreaterThan(0);
    for (const relationship of relationships) expect(relationship.attendee).toBeNull();
  });

  it('reaches nobody else: not through attendees, not through dataSubject', async () => {
    const other = await asPerson('per-1-0001', '{ dataSubject(personId: "per-1-0002") { id name } }');
    expect(other.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const list = await asPerson('per-1-0001', '{ attendees(first: 500) { edges { node { id name } } } }');
    const own = await ownerView('per-1-0001');
    expect(list.body.data!.attendees!.edges.map((e) => e.node.id).sort()).toEqual(own.attendees.map((a) => a.id).sort());
  });

  it('gets null for a token whose subject is no person', async () => {
    const response = await asPerson('nobody-at-all', ME);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.me).toBeNull();
  });

  it('lets a privacy officer read any person through dataSubject, and says NOT_FOUND for unknown ids', async () => {
    const token = await fixture.keys.sign({ roles: ['privacy_officer'] });
    const found = await fixture.gateway.request<{ dataSubject: { id: string; name: string; attendances: { tenant: string }[] } }>({
      query: '{ dataSubject(personId: "per-1-0002") { id name attendances { tenant } } }',
      token,
      purpose: 'legal-compliance',
    });
    expect(found.body.data!.dataSubject.name).toBe('Gustav Petrov');
    const expected = await ownerView('per-1-0002');
    expect(found.body.data!.dataSubject.attendances.map((a) => a.tenant).sort()).toEqual(expected.attendees.map((a) => a.tenant_id).sort());
    const missing = await fixture.gateway.request({ query: '{ dataSubject(personId: "per-nope") { id } }', token, purpose: 'legal-compliance' });
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('refuses dataSubject to purposes other than legal-compliance and self-service', async () => {
    const response = await fixture.gateway.request({
      query: '{ dataSubject(personId: "per-1-0002") { name } }',
      token: await fixture.keys.sign({ roles: ['support_agent'] }),
      purpose: 'customer-support',
    });
    expect(response.status).toBe(403);
    expect(response.body.errors?.[0]?.extensions?.fields).toEqual(['Query.dataSubject']);
  });
});
