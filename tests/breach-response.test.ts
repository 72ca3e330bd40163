import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { withScope } from '../src/db/request-scope.js';
import { DATABASE_KINDS } from './support/test-database.js';
import { gatewayFixture, startTestGateway, type GraphQLResponse } from './support/test-gateway.js';

const TENANT = 'northwind-live';
const FROM = '2020-01-01T00:00:00.000Z';
const TO = '2100-01-01T00:00:00.000Z';
const TEXTS = `nature: "A dashboard token was copied from a shared laptop and used by someone else.",
  consequences: "Your name, email and orders with this organizer may have been seen.",
  measures: "The token was revoked within the hour; staff access now expires after 15 minutes.",
  contact: "privacy@janusipm.com"`;

interface IncidentShape {
  id: string;
  notifyBy: string;
  openedAt: string;
  overdue: boolean;
  affectedPeople: number;
  categories: { category: string; people: number }[];
}

describe.each(DATABASE_KINDS)('breach response (%s)', (kind) => {
  const fixture = gatewayFixture(kind);

  const reviewer = () => fixture.keys.sign({ roles: ['security_reviewer'], sub: `reviewer-${randomUUID()}` });
  const officer = () => fixture.keys.sign({ roles: ['privacy_officer'], sub: `officer-${randomUUID()}` });

  /** The person ids behind attendee ids (as the owner: the test's own view of the truth). */
  async function personIdsOf(attendeeIds: readonly string[]): Promise<string[]> {
    const rows = await withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('attendees').select('person_id').where('tenant_id', '=', TENANT).where('id', 'in', [...attendeeIds]).execute(),
    );
    return rows.map((r) => r.person_id!).sort();
  }

  /** What the access log says a token exposed, person by person (the owner's reading of the log). */
  async function exposureOf(jti: string): Promise<Map<string, string[]>> {
    const entries = await withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('access_log').select('exposure').where('token_id', '=', jti).execute(),
    );
    const people = new Map<string, Set<string>>();
    for (const { exposure } of entries) {
      for (const [person, categories] of Object.entries(exposure)) {
        const set = people.get(person) ?? new Set<string>();
        for (const c of categories) set.add(c);
        people.set(person, set);
      }
    }
    return new Map([...people].map(([person, set]) => [person, [...set].sort()]));
  }

  /** A leaked organizer token reads a page of attendees; returns the token, its jti and the people it read. */
  async function leakedTokenReads(first: number, sub = `organizer-${randomUUID()}`) {
    const jti = randomUUID();
    const token = await fixture.keys.sign({ roles: ['organizer_admin'], tenant: TENANT, jti, sub });
    const response = await fixture.gateway.request<{ attendees: { edges: { node: { id: string } }[] } }>({
      query: `query Leak($first: Int) { attendees(first: $first) { edges { node { id name email } } } }`,
      variables: { first },
      token,
      purpose: 'ticketing',
    });
    expect(response.body.errors).toBeUndefined();
    const people = await personIdsOf(response.body.data!.attendees.edges.map((e) => e.node.id));
    expect(people).toHaveLength(first);
    return { token, jti, sub, people };
  }

  async function open(token: string, selector: string, extra = ''): Promise<GraphQLResponse<{ openIncident: IncidentShape }>> {
    return fixture.gateway.request({
      query: `mutation { openIncident(input: { ${selector}, from: "${FROM}", to: "${TO}", ${TEXTS} ${extra} }) {
        id openedAt notifyBy overdue affectedPeople categories { category people } } }`,
      token,
      purpose: 'security-audit',
    });
  }

  it('an incident on a jti lists exactly the people that token read, frozen, with notifyBy 72 hours on', async () => {
    const leaked = await leakedTokenReads(3);
    await leakedTokenReads(2); // another token's reads are not in scope
    const opened = await open(await reviewer(), `jti: "${leaked.jti}"`);
    expect(opened.body.errors).toBeUndefined();
    const incident = opened.body.data!.openIncident;
    // Every attendee read is exposed at least by their id; which other categories depends on their consent.
    const exposed = await exposureOf(leaked.jti);
    expect([...exposed.keys()].sort()).toEqual(leaked.people);
    expect(incident.affectedPeople).toBe(3);
    expect(Date.parse(incident.notifyBy) - Date.parse(incident.openedAt)).toBe(72 * 3600 * 1000);
    expect(incident.overdue).toBe(false);
    const perCategory = new Map<string, number>();
    for (const categories of exposed.values()) for (const c of categories) perCategory.set(c, (perCategory.get(c) ?? 0) + 1);
    expect(incident.categories).toEqual([...perCategory].sort(([a], [b]) => a.localeCompare(b)).map(([category, people]) => ({ category, people })));
    expect(perCategory.get('user.unique_id.pseudonymous')).toBe(3);

    const read = await fixture.gateway.request<{ incident: { notifications: { personId: string; email: string; categories: string[]; nature: string; contact: string }[] } }>({
      query: `query($id: ID!) { incident(id: $id) { notifications { personId email categories nature contact notifiedAt } } }`,
      variables: { id: incident.id },
      token: await officer(),
      purpose: 'legal-compliance',
    });
    expect(read.body.errors).toBeUndefined();
    const notifications = read.body.data!.incident.notifications;
    expect(notifications.map((n) => n.personId)).toEqual(leaked.people);
    for (const n of notifications) {
      expect(n.email).toMatch(/@/);
      expect(n.categories).toEqual(exposed.get(n.personId));
      expect(n.contact).toBe('privacy@janusipm.com');
      expect(n.nature).toMatch(/shared laptop/);
    }

    // Frozen: the same token reading more afterwards does not change the incident.
    await fixture.gateway.request({ query: '{ attendees(first: 10) { edges { node { id name } } } }', token: leaked.token, purpose: 'ticketing' });
    const again = await fixture.gateway.request<{ incident: { affectedPeople: number } }>({
      query: `query($id: ID!) { incident(id: $id) { affectedPeople } }`,
      variables: { id: incident.id },
      token: await reviewer(),
      purpose: 'security-audit',
    });
    expect(again.body.data!.incident.affectedPeople).toBe(3);
  });

  it('after revocation the same token is refused on the next request, on every gateway process; other tokens still work', async () => {
    const leaked = await leakedTokenReads(2);
    const bystander = await leakedTokenReads(1);
    const second = await startTestGateway({ database: await fixture.database.openApp(2), auth: fixture.keys.auth });
    try {
      const before = await second.request({ query: '{ events(first: 1) { edges { node { id } } } }', token: leaked.token, purpose: 'ticketing' });
      expect(before.status).toBe(200);

      const opened = await open(await reviewer(), `jti: "${leaked.jti}"`, ', revoke: true');
      expect(opened.body.errors).toBeUndefined();

      for (const gateway of [fixture.gateway, second]) {
        // Even a request that reads nothing from the database (viewer) is refused.
        const refused = await gateway.request({ query: '{ viewer { sub } }', token: leaked.token, purpose: 'ticketing' });
        expect(refused.status).toBe(401);
        expect(refused.body.errors?.[0]?.extensions).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'TOKEN_REVOKED' });
        expect(refused.body.data ?? null).toBeNull();
        const stillWorks = await gateway.request({ query: '{ viewer { sub } }', token: bystander.token, purpose: 'ticketing' });
        expect(stillWorks.status).toBe(200);
      }
      // A new token for the same actor, with another jti, is not the revoked token.
      const fresh = await fixture.keys.sign({ roles: ['organizer_admin'], tenant: TENANT, jti: randomUUID(), sub: leaked.sub });
      expect((await fixture.gateway.request({ query: '{ viewer { sub } }', token: fresh, purpose: 'ticketing' })).status).toBe(200);
    } finally {
      await second.close();
    }
  });

  it('revokeAccess on an actor refuses every token of that actor, and only a security reviewer may revoke', async () => {
    const sub = `organizer-${randomUUID()}`;
    const first = await leakedTokenReads(1, sub);
    const secondToken = await fixture.keys.sign({ roles: ['organizer_admin'], tenant: TENANT, sub });

    const byOfficer = await fixture.gateway.request({
      query: `mutation { revokeAccess(actor: "${sub}", reason: "stolen laptop") { actor } }`,
      token: await officer(),
      purpose: 'legal-compliance',
    });
    expect(byOfficer.status).toBe(403);
    expect(byOfficer.body.errors?.[0]?.extensions?.code).toBe('FIELD_NOT_PERMITTED');
    expect((await fixture.gateway.request({ query: '{ viewer { sub } }', token: secondToken, purpose: 'ticketing' })).status).toBe(200);

    const revoked = await fixture.gateway.request<{ revokeAccess: { actor: string; jti: string | null; reason: string; at: string } }>({
      query: `mutation { revokeAccess(actor: "${sub}", reason: "stolen laptop") { actor jti reason at } }`,
      token: await reviewer(),
      purpose: 'security-audit',
    });
    expect(revoked.body.errors).toBeUndefined();
    expect(revoked.body.data!.revokeAccess).toMatchObject({ actor: sub, jti: null, reason: 'stolen laptop' });
    for (const token of [first.token, secondToken]) {
      const refused = await fixture.gateway.request({ query: '{ viewer { sub } }', token, purpose: 'ticketing' });
      expect(refused.status).toBe(401);
      expect(refused.body.errors?.[0]?.extensions?.reason).toBe('TOKEN_REVOKED');
    }
    const nothing = await fixture.gateway.request({
      query: `mutation { revokeAccess(reason: "no target") { at } }`,
      token: await reviewer(),
      purpose: 'security-audit',
    });
    expect(nothing.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('the notification export holds each affected person once with their categories; reading it is a logged legal-compliance read', async () => {
    const leaked = await leakedTokenReads(4);
    // The same people read again by the same token: still one notification each.
    await fixture.gateway.request({ query: '{ attendees(first: 4) { edges { node { id name } } } }', token: leaked.token, purpose: 'ticketing' });
    const incident = (await open(await reviewer(), `jti: "${leaked.jti}"`)).body.data!.openIncident;
    const officerSub = `officer-${randomUUID()}`;
    const officerToken = await fixture.keys.sign({ roles: ['privacy_officer'], sub: officerSub });
    const response = await fixture.gateway.request<{ incident: { notificationsCsv: string } }>({
      query: `query($id: ID!) { incident(id: $id) { notificationsCsv } }`,
      variables: { id: incident.id },
      token: officerToken,
      purpose: 'legal-compliance',
    });
    expect(response.body.errors).toBeUndefined();
    const lines = response.body.data!.incident.notificationsCsv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('personId,email,residency,categories,nature,consequences,measures,contact,notifiedAt');
    const ids = lines.slice(1).map((line) => line.split(',')[0]);
    expect(ids).toEqual(leaked.people);
    const exposed = await exposureOf(leaked.jti);
    for (const line of lines.slice(1)) expect(line.split(',')[3]).toBe(exposed.get(line.split(',')[0]!)!.join(';'));

    const entries = await withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('access_log').select(['purpose', 'subjects', 'fields', 'exposure']).where('actor', '=', officerSub).execute(),
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]!.purpose).toBe('legal-compliance');
    expect([...entries[0]!.subjects].sort()).toEqual(leaked.people);
    expect(entries[0]!.fields).toEqual(expect.arrayContaining(['Incident.notificationsCsv', 'BreachNotification.email']));
    for (const person of leaked.people) {
      expect(entries[0]!.exposure[person]).toEqual(expect.arrayContaining(['user.unique_id.platform']));
    }
    const withEmail = lines.slice(1).filter((line) => line.split(',')[1] !== '').map((line) => line.split(',')[0]!);
    expect(withEmail.length).toBeGreaterThan(0);
    for (const person of withEmail) expect(entries[0]!.exposure[person]).toContain('user.contact.email');

    // Security staff see counts, never contacts.
    const refused = await fixture.gateway.request({
      query: `query($id: ID!) { incident(id: $id) { notificationsCsv } }`,
      variables: { id: incident.id },
      token: await reviewer(),
      purpose: 'security-audit',
    });
    expect(refused.status).toBe(403);
    expect(refused.body.errors?.[0]?.extensions?.fields).toEqual(['Incident.notificationsCsv']);
  });

  it('the regulator summary counts people by residency and category, and holds no person id or contact', async () => {
    const leaked = await leakedTokenReads(5);
    const incident = (await open(await reviewer(), `jti: "${leaked.jti}"`)).body.data!.openIncident;
    const response = await fixture.gateway.request<{ incident: { regulatorSummary: { residency: string; category: string; people: number }[] } }>({
      query: `query($id: ID!) { incident(id: $id) { regulatorSummary { residency category people } } }`,
      variables: { id: incident.id },
      token: await reviewer(),
      purpose: 'security-audit',
    });
    expect(response.body.errors).toBeUndefined();
    const summary = response.body.data!.incident.regulatorSummary;
    const people = await withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('people').select(['id', 'email', 'residency']).where('id', 'in', leaked.people).execute(),
    );
    const residency = new Map(people.map((p) => [p.id, p.residency]));
    const expected = new Map<string, number>();
    for (const [person, categories] of await exposureOf(leaked.jti)) {
      for (const category of categories) {
        const key = `${residency.get(person)}|${category}`;
        expected.set(key, (expected.get(key) ?? 0) + 1);
      }
    }
    expect(new Map(summary.map((r) => [`${r.residency}|${r.category}`, r.people]))).toEqual(expected);
    expect(summary.filter((r) => r.category === 'user.unique_id.pseudonymous').reduce((n, r) => n + r.people, 0)).toBe(5);
    const text = JSON.stringify(summary);
    for (const p of people) {
      expect(text).not.toContain(p.id);
      expect(text).not.toContain(p.email!);
    }
  });

  it('marks people notified; an incident past notifyBy with someone not notified is overdue', async () => {
    const leaked = await leakedTokenReads(2);
    const incident = (await open(await reviewer(), `jti: "${leaked.jti}"`)).body.data!.openIncident;
    // Become aware 73 hours ago (as the owner: nothing in the API moves time).
    await withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) =>
      sql`update incidents set opened_at = now() - interval '73 hours', notify_by = now() - interval '1 hour' where id = ${incident.id}::uuid`.execute(trx),
    );
    const token = await officer();
    const overdue = async () =>
      (
        await fixture.gateway.request<{ incidents: { id: string; overdue: boolean }[] }>({
          query: '{ incidents(overdue: true) { id overdue } }',
          token,
          purpose: 'legal-compliance',
        })
      ).body.data!.incidents.map((i) => i.id);
    expect(await overdue()).toContain(incident.id);

    const wrong = await fixture.gateway.request({
      query: `mutation($id: ID!, $p: [ID!]!) { markNotified(incidentId: $id, personIds: $p) { id } }`,
      variables: { id: incident.id, p: [leaked.people[0], 'per-not-affected'] },
      token,
      purpose: 'legal-compliance',
    });
    expect(wrong.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await overdue()).toContain(incident.id);

    const marked = await fixture.gateway.request<{ markNotified: { overdue: boolean; notNotified: number; notifications: { notifiedAt: string | null }[] } }>({
      query: `mutation($id: ID!, $p: [ID!]!) { markNotified(incidentId: $id, personIds: $p) { overdue notNotified notifications { notifiedAt } } }`,
      variables: { id: incident.id, p: leaked.people },
      token,
      purpose: 'legal-compliance',
    });
    expect(marked.body.errors).toBeUndefined();
    expect(marked.body.data!.markNotified).toMatchObject({ overdue: false, notNotified: 0 });
    expect(marked.body.data!.markNotified.notifications.every((n) => n.notifiedAt !== null)).toBe(true);
    expect(await overdue()).not.toContain(incident.id);
  });

  it('refuses bad incident input and organizers; an incident id that does not exist is NOT_FOUND', async () => {
    const token = await reviewer();
    const none = await fixture.gateway.request({
      query: `mutation { openIncident(input: { from: "${FROM}", to: "${TO}", ${TEXTS} }) { id } }`,
      token,
      purpose: 'security-audit',
    });
    expect(none.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const backwards = await fixture.gateway.request({
      query: `mutation { openIncident(input: { actor: "x", from: "${TO}", to: "${FROM}", ${TEXTS} }) { id } }`,
      token,
      purpose: 'security-audit',
    });
    expect(backwards.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const missing = await fixture.gateway.request({
      query: `{ incident(id: "${randomUUID()}") { id } }`,
      token,
      purpose: 'security-audit',
    });
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const organizer = await fixture.keys.sign({ roles: ['organizer_admin'], tenant: TENANT });
    const refused = await fixture.gateway.request({ query: '{ incidents { id } }', token: organizer, purpose: 'ticketing' });
    expect(refused.status).toBe(403);
    expect(refused.body.errors?.[0]?.extensions?.fields).toEqual(['Incident.id', 'Query.incidents']);
  });
});
