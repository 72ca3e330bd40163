import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { expectedBuckets } from './support/suppression.js';
import { describe, expect, it } from 'vitest';
import { importData } from '../src/privacy/import/import-data.js';
import { DATABASE_KINDS, demoData } from './support/test-database.js';
import { gatewayFixture, type GraphQLResponse } from './support/test-gateway.js';

const DAY = 24 * 60 * 60 * 1000;

interface DemoPerson {
  id: string;
  name: string;
  email: string;
  phone?: string;
  residency: string;
  billingAddress?: { line1: string; city: string; country: string };
  consent: { marketing: boolean; enrichment: boolean; doNotSell: boolean; restricted: boolean; objection: boolean };
}
interface DemoFile {
  people: DemoPerson[];
}
const DEMO_PEOPLE = (demoData() as DemoFile).people;
const demoPerson = (id: string): DemoPerson => {
  const person = DEMO_PEOPLE.find((p) => p.id === id);
  if (person === undefined) throw new Error(`${id} is not in the demo file`);
  return person;
};

/** What identifies a person in any response or row: the values an erasure must make unreachable. */
function identifiersOf(person: DemoPerson): string[] {
  return [person.name, person.email, person.phone, person.billingAddress?.line1].filter((v): v is string => v !== undefined);
}
const emailHash = (email: string) => createHash('sha256').update(email.trim().toLowerCase()).digest('hex');

interface Caller {
  roles: string[];
  purpose: string;
  sub?: string;
  tenant?: string;
}
/**
 * An erasure is verified through every role's reads before and after (dozens of requests): a
 * ceiling for a machine several times slower than a quiet one, not a timing assertion.
 */
const ERASURE_CEILING = 300_000;
const OFFICER: Caller = { roles: ['privacy_officer'], sub: 'officer-ada', purpose: 'legal-compliance' };
const ANALYST: Caller = { roles: ['analyst'], sub: 'job-analytics', purpose: 'analytics' };
const asPerson = (personId: string): Caller => ({ roles: ['data_subject'], sub: personId, purpose: 'self-service' });
const TENANTS = ['northwind-live', 'harbor-jazz', 'civic-theatre'];

interface RequestNode {
  id: string;
  personId: string;
  kind: string;
  requestedBy: string;
  requestedByRole: string;
  requestedAt: string;
  dueAt: string;
  completedAt: string | null;
  overdue: boolean;
}
const REQUEST_FIELDS = 'id personId kind requestedBy requestedByRole requestedAt dueAt completedAt overdue';

interface ExportDocument {
  requestId: string;
  person: {
    id: string;
    name: string | null;
    email: string | null;
    phone: string | null;
    billingAddress: { line1: string | null; city: string | null; country: string | null };
    ageRange: string | null;
    residency: string | null;
  };
  consent: { marketing: boolean; enrichment: boolean; doNotSell: boolean; restricted: boolean; objection: boolean };
  enrichment: { company: string | null; jobTitle: string | null; industry: string | null; webPresence: string | null };
  devices: { ip: string; userAgent: string }[];
  usage: { at: string; page: string; feature: string }[];
  supportCases: { id: string; subject: string; body: string }[];
  tenants: {
    tenant: string;
    attendeeId: string;
    orders: { id: string; totalCents: number; tickets: { id: string; type: string }[] }[];
    relationships: { kind: string; direction: string }[];
  }[];
  requests: { id: string; kind: string; requestedByRole: string; completedAt: string | null }[];
}

const MUTATIONS = {
  setConsent: 'mutation($p: ID!) { setConsent(personId: $p, input: { marketing: false }) { marketing } }',
  restrictProcessing: 'mutation($p: ID!) { restrictProcessing(personId: $p, restricted: true) { restricted } }',
  rectify: 'mutation($p: ID!) { rectify(personId: $p, input: { name: "Someone Else" }) { id } }',
  requestErasure: 'mutation($p: ID!) { requestErasure(personId: $p) { id } }',
  fileDataSubjectRequest: 'mutation($p: ID!) { fileDataSubjectRequest(personId: $p, kind: ACCESS) { id } }',
} as const;

describe.each(DATABASE_KINDS)('data-subject requests over HTTP (%s)', (kind) => {
  const fixture = gatewayFixture(kind);

  async function call<T = Record<string, unknown>>(caller: Caller, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>> {
    const token = await fixture.keys.sign({ roles: caller.roles, sub: caller.sub, tenant: caller.tenant, purposes: [caller.purpose] });
    return fixture.gateway.request<T>({ query, variables, token, purpose: caller.purpose });
  }
  /** A read that must succeed: a refused probe would otherwise "find nothing" for the wrong reason. */
  async function read<T = Record<string, unknown>>(caller: Caller, query: string, variables?: Record<string, unknown>): Promise<T> {
    const response = await call<T>(caller, query, variables);
    expect(response.body.errors, `${caller.roles[0]}/${caller.purpose}: ${query}`).toBeUndefined();
    return response.body.data!;
  }
  const codeOf = (response: GraphQLResponse<unknown>) => response.body.errors?.[0]?.extensions?.code;

  const owner = () => fixture.database.owner.db;

  async function publicTables(): Promise<string[]> {
    const rows = await sql<{ name: string }>`select table_name as name from information_schema.tables
      where table_schema = 'public' order by table_name`.execute(owner());
    return rows.rows.map((r) => r.name);
  }
  async function rowsOf(table: string): Promise<string[]> {
    const rows = await sql<{ row: string }>`select t::text as row from ${sql.table(table)} t`.execute(owner());
    return rows.rows.map((r) => r.row).sort();
  }
  /** Every row of every public table that mentions any of the values (case-insensitive). */
  async function rowsMentioning(values: readonly string[]): Promise<string[]> {
    const hits: string[] = [];
    for (const table of await publicTables()) {
      for (const row of await rowsOf(table)) {
        const lower = row.toLowerCase();
        for (const value of values) if (lower.includes(value.toLowerCase())) hits.push(`${table}: ${value}`);
      }
    }
    return hits;
  }
  // The access log is left out: once reads are logged, a refused request appends to it by design.
  async function snapshot(): Promise<Record<string, string[]>> {
    // The access log (its partitions, subject index and chain head) grows with every request by design.
    const tables = (await publicTables()).filter((t) => !t.startsWith('access_log'));
    return Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await rowsOf(t)] as const)));
  }

  async function requestsOf(personId: string): Promise<RequestNode[]> {
    const data = await read<{ dataSubjectRequests: { edges: { node: RequestNode }[] } }>(
      OFFICER,
      `query($p: ID) { dataSubjectRequests(personId: $p, first: 500) { edges { node { ${REQUEST_FIELDS} } } } }`,
      { p: personId },
    );
    return data.dataSubjectRequests.edges.map((e) => e.node);
  }

  /**
   * POLICY.md's rule written out independently: objecting or restricted people leave analytics
   * aggregates; erased people's orders stay. Buckets count people, once each: a person known to
   * two tenants is one person; an erased person's attendee rows can no longer be joined up.
   */
  async function expectedTicketTypeBreakdown(): Promise<{ value: string; count: number | null }[]> {
    const rows = await sql<{ value: string; people: number }>`
      select t.type as value, count(distinct coalesce(a.person_id, a.tenant_id || '/' || a.id::text))::int as people
      from attendees a
      join orders o on o.tenant_id = a.tenant_id and o.attendee_id = a.id
      join tickets t on t.tenant_id = o.tenant_id and t.order_id = o.id
      left join consents c on c.person_id = a.person_id
      where a.person_id is null or not (c.restricted or c.objection)
      group by 1 order by 1`.execute(owner());
    return expectedBuckets(new Map(rows.rows.map((r) => [r.value, r.people])));
  }
  async function ticketTypeBreakdown() {
    const data = await read<{ audienceBreakdown: { value: string; count: number | null }[] }>(
      ANALYST,
      '{ audienceBreakdown(dimension: TICKET_TYPE) { value count } }',
    );
    return [...data.audienceBreakdown].sort((a, b) => a.value.localeCompare(b.value));
  }

  async function attendeesOfPerson(personId: string) {
    return owner().selectFrom('attendees').select(['tenant_id', 'id']).where('person_id', '=', personId).orderBy('id').execute();
  }
  async function ordersOfAttendees(attendees: readonly { tenant_id: string; id: string }[]) {
    if (attendees.length === 0) return [];
    return owner()
      .selectFrom('orders')
      .select(['tenant_id', 'id', 'attendee_id'])
      .where((eb) => eb.or(attendees.map((a) => eb.and([eb('tenant_id', '=', a.tenant_id), eb('attendee_id', '=', a.id)]))))
      .orderBy('id')
      .execute();
  }

  /** Every read the platform offers, by every role that may read people: the raw response texts. */
  async function everyRolesReads(personId: string): Promise<Record<string, string>> {
    const texts: Record<string, string> = {};
    const probe = async (label: string, caller: Caller, query: string, variables?: Record<string, unknown>) => {
      texts[label] = JSON.stringify(await read(caller, query, variables));
    };
    for (const tenant of TENANTS) {
      const admin = (purpose: string): Caller => ({ roles: ['organizer_admin'], sub: `admin@${tenant}`, tenant, purpose });
      await probe(
        `${tenant} ticketing`,
        admin('ticketing'),
        '{ attendees(first: 500) { edges { node { id name email consent { marketing enrichment } masked { field reason } orders { id totalCents tickets { id type } } } } } }',
      );
      await probe(`${tenant} event-communication`, admin('event-communication'), '{ attendees(first: 500) { edges { node { id name email } } } }');
      await probe(
        `${tenant} audience-insights`,
        admin('audience-insights'),
        '{ attendees(first: 500) { edges { node { id name email company jobTitle industry webPresence relationships { kind direction attendee { id name email } } orders { id } } } } }',
      );
      await probe(`${tenant} marketing`, admin('marketing'), '{ marketingAudience(first: 500) { edges { node { emailSha256 } } } }');
      await probe(
        `${tenant} event-checkin`,
        { roles: ['organizer_staff'], sub: `door@${tenant}`, tenant, purpose: 'event-checkin' },
        '{ attendees(first: 500) { edges { node { id name email orders { tickets { id type checkedInAt } } } } } }',
      );
    }
    await probe(
      'event-reminders',
      { roles: ['notification_service'], sub: 'svc-reminders', purpose: 'event-reminders' },
      '{ attendees(first: 500) { edges { node { id name email phone } } } }',
    );
    await probe(
      'customer-support',
      { roles: ['support_agent'], sub: 'agent-1', purpose: 'customer-support' },
      '{ attendees(first: 500) { edges { node { id name email phone consent { marketing } supportCases { id subject body } orders { id } } } } }',
    );
    for (const purpose of ['fraud-prevention', 'payment-processing']) {
      await probe(
        purpose,
        { roles: ['fraud_analyst'], sub: 'fraud-1', purpose },
        purpose === 'fraud-prevention'
          ? '{ attendees(first: 500) { edges { node { id name email billingAddress { line1 city country } devices { ip userAgent } orders { id paymentRef } } } } }'
          : '{ attendees(first: 500) { edges { node { id name billingAddress { line1 city country } orders { id paymentRef } } } } }',
      );
    }
    await probe(
      'legal-compliance attendees',
      OFFICER,
      '{ attendees(first: 500) { edges { node { id name email phone billingAddress { line1 } company supportCases { body } } } } }',
    );
    const officer = await call(OFFICER, 'query($p: ID!) { dataSubject(personId: $p) { id name email phone billingAddress { line1 } } }', { p: personId });
    texts['legal-compliance dataSubject'] = JSON.stringify(officer.body);
    const me = await call(asPerson(personId), '{ me { id name email phone billingAddress { line1 } } }');
    texts['self-service me'] = JSON.stringify(me.body);
    return texts;
  }

  async function eraseAndVerify(personId: string, eraser: Caller, expectedDays: number) {
    const person = demoPerson(personId);
    const identifiers = identifiersOf(person);
    // Each value must name this person only, or finding it elsewhere would prove nothing.
    for (const value of identifiers) expect(DEMO_PEOPLE.filter((p) => identifiersOf(p).includes(value)).map((p) => p.id)).toEqual([personId]);
    const hash = emailHash(person.email);

    const attendees = await attendeesOfPerson(personId);
    const orders = await ordersOfAttendees(attendees);
    expect(orders.length).toBeGreaterThan(0);
    // Soft: a wrong count must not hide what the rest of the erasure does (or a later erasure's).
    const breakdownBefore = await ticketTypeBreakdown();
    expect.soft(breakdownBefore).toEqual(await expectedTicketTypeBreakdown());
    const readsBefore = await everyRolesReads(personId);
    // The probes do reach this person while they exist: the same probes must then find nothing.
    expect(Object.values(readsBefore).some((text) => text.includes(person.name))).toBe(true);
    expect(readsBefore['self-service me']).toContain(person.email);
    if (person.consent.marketing && !person.consent.doNotSell && !person.consent.objection && !person.consent.restricted) {
      expect(Object.values(readsBefore).some((text) => text.includes(hash))).toBe(true);
    }

    const started = Date.now();
    const erased = await call<{ requestErasure: RequestNode }>(eraser, `mutation($p: ID!) { requestErasure(personId: $p) { ${REQUEST_FIELDS} } }`, {
      p: personId,
    });
    expect(erased.body.errors).toBeUndefined();
    const request = erased.body.data!.requestErasure;
    expect(request).toMatchObject({ personId, kind: 'ERASURE', requestedBy: eraser.sub, requestedByRole: eraser.roles[0], overdue: false });
    expect(request.completedAt).not.toBeNull();
    expect(Date.parse(request.requestedAt)).toBeGreaterThanOrEqual(started - 5_000);
    expect(Date.parse(request.requestedAt)).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(Date.parse(request.dueAt) - Date.parse(request.requestedAt)).toBe(expectedDays * DAY);

    // No role, no purpose, reaches any of the person's identifiers.
    const readsAfter = await everyRolesReads(personId);
    for (const [label, text] of Object.entries(readsAfter)) {
      for (const value of [...identifiers, hash]) expect(text.includes(value), `${label} still shows ${value}`).toBe(false);
    }
    expect(JSON.parse(readsAfter['self-service me']!)).toEqual({ data: { me: null } });
    const gone = await call(OFFICER, 'query($p: ID!) { dataSubject(personId: $p) { id } }', { p: personId });
    expect(codeOf(gone)).toBe('NOT_FOUND');

    // Transactions are kept, pseudonymised: unlinkable from every id the tenant knew the person by.
    expect(await ordersOfAttendees(attendees), 'no order hangs off an old attendee id').toEqual([]);
    expect(await owner().selectFrom('attendees').select('id').where('id', 'in', attendees.map((a) => a.id)).execute()).toEqual([]);
    const kept = await owner()
      .selectFrom('orders')
      .innerJoin('attendees', (join) => join.onRef('attendees.tenant_id', '=', 'orders.tenant_id').onRef('attendees.id', '=', 'orders.attendee_id'))
      .select(['orders.tenant_id', 'orders.id', 'orders.attendee_id', 'orders.payment_ref', 'attendees.person_id'])
      .where((eb) => eb.or(orders.map((o) => eb.and([eb('orders.tenant_id', '=', o.tenant_id), eb('orders.id', '=', o.id)]))))
      .orderBy('orders.id')
      .execute();
    expect(kept.map((o) => o.id)).toEqual(orders.map((o) => o.id));
    for (const order of kept) {
      expect(order.person_id, 'the order points at nobody').toBeNull();
      expect(order.payment_ref, 'the payment reference is dropped').toBeNull();
      expect(attendees.map((a) => a.id)).not.toContain(order.attendee_id);
    }
    // Still counted. (A person known to two tenants counted once before; their attendee rows can no
    // longer be joined up, so afterwards they may count once per tenant.)
    expect.soft(await ticketTypeBreakdown(), 'analytics counts per POLICY.md').toEqual(await expectedTicketTypeBreakdown());
    for (const attendee of attendees) {
      const organizer = { roles: ['organizer_admin'], sub: `admin@${attendee.tenant_id}`, tenant: attendee.tenant_id, purpose: 'ticketing' };
      const before = await call(organizer, 'query($id: ID!) { attendee(id: $id) { id name orders { id } } }', { id: attendee.id });
      expect(codeOf(before), 'an attendee id read before the erasure answers nothing').toBe('NOT_FOUND');
      for (const order of kept.filter((o) => o.tenant_id === attendee.tenant_id)) {
        const seen = await read<{ order: { id: string; totalCents: number } }>(organizer, 'query($id: ID!) { order(id: $id) { id totalCents } }', { id: order.id });
        expect(seen.order.id, 'the order itself is kept for its 7 years').toBe(order.id);
      }
    }
    const fraud = { roles: ['fraud_analyst'], sub: 'fraud@platform', purpose: 'payment-processing' };
    for (const order of kept) {
      const seen = await read<{ order: { paymentRef: string | null } }>(fraud, 'query($id: ID!) { order(id: $id) { paymentRef } }', { id: order.id });
      expect(seen.order.paymentRef).toBeNull();
    }

    // Nothing in any table, the access log and the request records included.
    expect(await publicTables()).toEqual(expect.arrayContaining(['access_log', 'data_subject_requests', 'people', 'support_cases']));
    expect(await rowsMentioning(identifiers)).toEqual([]);

    // Only the minimal record remains.
    const records = await requestsOf(personId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ id: request.id, kind: 'ERASURE', requestedBy: eraser.sub, requestedByRole: eraser.roles[0], dueAt: request.dueAt });
    expect(records[0]!.requestedAt).toBeTruthy();
    expect(records[0]!.completedAt).toBeTruthy();

    // An erased person cannot be changed, nor erased twice, by anyone who could before.
    const before = await snapshot();
    for (const caller of [OFFICER, asPerson(personId)]) {
      for (const [name, mutation] of Object.entries(MUTATIONS)) {
        if (name === 'fileDataSubjectRequest') continue;
        const refused = await call(caller, mutation, { p: personId });
        expect(codeOf(refused), `${caller.roles[0]} ${name}`).toBe('PERSON_ERASED');
      }
    }
    expect(await snapshot()).toEqual(before);
  }

  it('erasure by a privacy officer: nothing personal is reachable, orders are kept and still counted', async () => {
    // per-1-0013 (US-CA): two tenants, relationships, a support case, marketing consent.
    await eraseAndVerify('per-1-0013', OFFICER, 45);
  }, ERASURE_CEILING);

  it('erasure by the person themself, with the GDPR deadline', async () => {
    // per-1-0047 (EU-IE): three tenants, relationships, marketing consent.
    await eraseAndVerify('per-1-0047', asPerson('per-1-0047'), 30);
  }, ERASURE_CEILING);

  it('re-importing the demo file does not bring erased people back', async () => {
    const erased = (await owner().selectFrom('data_subject_requests').select('person_id').where('kind', '=', 'ERASURE').execute()).map((r) => r.person_id);
    expect(erased).toContain('per-1-0013');
    const report = await importData(fixture.database.owner.db, demoData());
    expect(report['skippedErasedPeople']).toBe(erased.length);
    expect(report['people']).toBe(0);
    for (const personId of erased) {
      expect(await rowsMentioning(identifiersOf(demoPerson(personId)))).toEqual([]);
      expect(await attendeesOfPerson(personId)).toEqual([]);
      expect(codeOf(await call(OFFICER, 'query($p: ID!) { dataSubject(personId: $p) { id } }', { p: personId }))).toBe('NOT_FOUND');
    }
  });

  async function verifyExport(personId: string, document: ExportDocument) {
    const db = owner();
    const profile = await db.selectFrom('people').selectAll().where('id', '=', personId).executeTakeFirstOrThrow();
    expect(document.person).toMatchObject({
      id: personId,
      name: profile.name,
      email: profile.email,
      phone: profile.phone,
      ageRange: profile.age_range,
      residency: profile.residency,
      billingAddress: { line1: profile.billing_line1, city: profile.billing_city, country: profile.billing_country },
    });
    const consent = await db.selectFrom('consents').selectAll().where('person_id', '=', personId).executeTakeFirstOrThrow();
    expect(document.consent).toMatchObject({
      marketing: consent.marketing,
      enrichment: consent.enrichment,
      doNotSell: consent.do_not_sell,
      restricted: consent.restricted,
      objection: consent.objection,
    });
    const enrichment = await db.selectFrom('enrichments').selectAll().where('person_id', '=', personId).executeTakeFirstOrThrow();
    expect(document.enrichment).toEqual({
      company: enrichment.company,
      jobTitle: enrichment.job_title,
      industry: enrichment.industry,
      webPresence: enrichment.web_presence,
    });
    const devices = await db.selectFrom('devices').select(['ip', 'user_agent as userAgent']).where('person_id', '=', personId).execute();
    expect(devices.length).toBeGreaterThan(0);
    expect(document.devices).toEqual(expect.arrayContaining(devices));
    expect(document.devices).toHaveLength(devices.length);
    const usage = await db.selectFrom('usage_events').select(['page', 'feature', 'at']).where('person_id', '=', personId).execute();
    expect(usage.length).toBeGreaterThan(0);
    expect(document.usage.map((u) => `${Date.parse(u.at)} ${u.page} ${u.feature}`).sort()).toEqual(
      usage.map((u) => `${u.at.getTime()} ${u.page} ${u.feature}`).sort(),
    );
    const cases = await db.selectFrom('support_cases').select(['id', 'subject', 'body']).where('person_id', '=', personId).orderBy('id').execute();
    expect(cases.length).toBeGreaterThan(0);
    expect([...document.supportCases].sort((a, b) => a.id.localeCompare(b.id)).map(({ id, subject, body }) => ({ id, subject, body }))).toEqual(cases);

    const attendees = await attendeesOfPerson(personId);
    expect(new Set(attendees.map((a) => a.tenant_id)).size).toBeGreaterThan(1);
    expect(document.tenants.map((t) => `${t.tenant}/${t.attendeeId}`).sort()).toEqual(attendees.map((a) => `${a.tenant_id}/${a.id}`).sort());
    const orders = await ordersOfAttendees(attendees);
    const exportedOrders = document.tenants.flatMap((t) => t.orders.map((o) => ({ tenant: t.tenant, ...o })));
    expect(exportedOrders.map((o) => `${o.tenant}/${o.id}`).sort()).toEqual(orders.map((o) => `${o.tenant_id}/${o.id}`).sort());
    for (const order of exportedOrders) {
      const tickets = await db.selectFrom('tickets').select(['id', 'type']).where('tenant_id', '=', order.tenant).where('order_id', '=', order.id).orderBy('id').execute();
      expect(tickets.length).toBeGreaterThan(0);
      expect([...order.tickets].sort((a, b) => a.id.localeCompare(b.id)).map(({ id, type }) => ({ id, type }))).toEqual(tickets);
    }
    for (const tenant of document.tenants) {
      const relationships = await db
        .selectFrom('relationships')
        .select(['kind', 'from_attendee_id'])
        .where('tenant_id', '=', tenant.tenant)
        .where((eb) => eb.or([eb('from_attendee_id', '=', tenant.attendeeId), eb('to_attendee_id', '=', tenant.attendeeId)]))
        .execute();
      expect(tenant.relationships.map((r) => `${r.kind} ${r.direction}`).sort()).toEqual(
        relationships.map((r) => `${r.kind} ${r.from_attendee_id === tenant.attendeeId ? 'OUTGOING' : 'INCOMING'}`).sort(),
      );
    }
    expect(document.tenants.flatMap((t) => t.relationships).length).toBeGreaterThan(0);
    expect(document.requests.find((r) => r.id === document.requestId)).toMatchObject({ kind: 'ACCESS' });

    // Nobody else: no other person's id, name or email, anywhere in the document.
    const text = JSON.stringify(document);
    const leaks = DEMO_PEOPLE.filter((p) => p.id !== personId).flatMap((p) =>
      [p.id, p.name, p.email].filter((value) => text.toLowerCase().includes(value.toLowerCase())).map((value) => `${p.id}: ${value}`),
    );
    expect(leaks).toEqual([]);
  }

  it('export, as privacy officer and as the person: every category they have, nobody else, recorded as ACCESS', async () => {
    // per-1-0037 (EU-IE): two tenants, four relationships, a support case, enrichment, a device.
    const personId = 'per-1-0037';
    const byOfficer = await read<{ dataSubject: { export: ExportDocument } }>(OFFICER, 'query($p: ID!) { dataSubject(personId: $p) { export } }', {
      p: personId,
    });
    await verifyExport(personId, byOfficer.dataSubject.export);
    const bySelf = await read<{ me: { export: ExportDocument } }>(asPerson(personId), '{ me { export } }');
    await verifyExport(personId, bySelf.me.export);

    const access = (await requestsOf(personId)).filter((r) => r.kind === 'ACCESS');
    expect(access.map((r) => r.id).sort()).toEqual([byOfficer.dataSubject.export.requestId, bySelf.me.export.requestId].sort());
    expect(access.map((r) => `${r.requestedBy} ${r.requestedByRole}`).sort()).toEqual(['officer-ada privacy_officer', `${personId} data_subject`]);
    for (const r of access) {
      expect(r.completedAt).not.toBeNull();
      expect(Date.parse(r.dueAt) - Date.parse(r.requestedAt)).toBe(30 * DAY);
    }
  });

  it('records each kind, who asked and when, due in 30 days for EU and GB residents and 45 for others', async () => {
    const cases: { personId: string; caller: Caller; kind: string; days: number; run: () => Promise<GraphQLResponse<unknown>> }[] = [];
    const add = (personId: string, caller: Caller, kind: string, query: string) =>
      cases.push({
        personId,
        caller,
        kind,
        days: ['EU-', 'GB'].some((prefix) => demoPerson(personId).residency.startsWith(prefix)) ? 30 : 45,
        run: () => call(caller, query, { p: personId }),
      });
    add('per-1-0004', OFFICER, 'CONSENT', 'mutation($p: ID!) { setConsent(personId: $p, input: { marketing: false, doNotSell: true }) { marketing doNotSell } }');
    add('per-1-0006', asPerson('per-1-0006'), 'RESTRICTION', 'mutation($p: ID!) { restrictProcessing(personId: $p, restricted: true) { restricted } }');
    add('per-1-0002', OFFICER, 'OBJECTION', 'mutation($p: ID!) { setConsent(personId: $p, input: { objection: true }) { objection } }');
    add('per-1-0026', asPerson('per-1-0026'), 'RECTIFICATION', 'mutation($p: ID!) { rectify(personId: $p, input: { name: "Rowan Byrne" }) { name } }');
    add('per-1-0041', OFFICER, 'ACCESS', 'query($p: ID!) { dataSubject(personId: $p) { export } }');
    add('per-1-0003', asPerson('per-1-0003'), 'ACCESS', '{ me { export } }');
    add('per-1-0038', OFFICER, 'ERASURE', 'mutation($p: ID!) { requestErasure(personId: $p) { id } }');
    expect(new Set(cases.map((c) => c.days))).toEqual(new Set([30, 45]));
    expect(demoPerson('per-1-0006').residency).toBe('US-CA');
    expect(demoPerson('per-1-0002').residency).toBe('CA-ON');
    expect(demoPerson('per-1-0026').residency).toBe('GB');

    for (const c of cases) {
      const started = Date.now();
      const response = await c.run();
      expect(response.body.errors, `${c.kind} ${c.personId}`).toBeUndefined();
      const records = (await requestsOf(c.personId)).filter((r) => r.kind === c.kind);
      expect(records, `${c.kind} ${c.personId}`).toHaveLength(1);
      const [record] = records;
      expect(record).toMatchObject({ personId: c.personId, requestedBy: c.caller.sub, requestedByRole: c.caller.roles[0], overdue: false });
      expect(Date.parse(record!.requestedAt)).toBeGreaterThanOrEqual(started - 5_000);
      expect(Date.parse(record!.requestedAt)).toBeLessThanOrEqual(Date.now() + 5_000);
      expect(Date.parse(record!.dueAt) - Date.parse(record!.requestedAt), `${c.kind} ${c.personId}`).toBe(c.days * DAY);
      expect(record!.completedAt).not.toBeNull();
    }
    // Which fields changed is recorded, never their values.
    expect(await rowsOf('data_subject_requests').then((rows) => rows.filter((r) => r.includes('Rowan Byrne')))).toEqual([]);
  });

  it('a request filed 60 days ago is overdue until the same kind is carried out', async () => {
    const overdueList = async () =>
      (
        await read<{ dataSubjectRequests: { edges: { node: RequestNode }[] } }>(
          OFFICER,
          `{ dataSubjectRequests(overdue: true, first: 500) { edges { node { ${REQUEST_FIELDS} } } } }`,
        )
      ).dataSubjectRequests.edges.map((e) => e.node);
    const file = async (personId: string, requestKind: string, daysAgo: number) => {
      const receivedAt = new Date(Date.now() - daysAgo * DAY).toISOString();
      const data = await read<{ fileDataSubjectRequest: RequestNode }>(
        OFFICER,
        `mutation($p: ID!, $k: DataSubjectRequestKind!, $at: DateTime) { fileDataSubjectRequest(personId: $p, kind: $k, receivedAt: $at) { ${REQUEST_FIELDS} } }`,
        { p: personId, k: requestKind, at: receivedAt },
      );
      const filed = data.fileDataSubjectRequest;
      expect(filed).toMatchObject({ personId, kind: requestKind, completedAt: null, requestedBy: 'officer-ada', requestedByRole: 'privacy_officer' });
      expect(Date.parse(filed.requestedAt)).toBe(Date.parse(receivedAt));
      return filed;
    };

    // 60 days ago: past both deadlines. 40 days ago: past the GDPR one only.
    const restriction = await file('per-1-0029', 'RESTRICTION', 60); // EU-IE
    const rectification = await file('per-1-0059', 'RECTIFICATION', 40); // EU-FR
    const access = await file('per-1-0016', 'ACCESS', 60); // US-TX
    const notYet = await file('per-1-0022', 'RECTIFICATION', 40); // US-CA
    expect(Date.parse(restriction.dueAt) - Date.parse(restriction.requestedAt)).toBe(30 * DAY);
    expect(Date.parse(access.dueAt) - Date.parse(access.requestedAt)).toBe(45 * DAY);
    expect(Date.parse(notYet.dueAt) - Date.parse(notYet.requestedAt)).toBe(45 * DAY);
    for (const filed of [restriction, rectification, access]) expect(filed.overdue).toBe(true);
    expect(notYet.overdue).toBe(false);

    const listed = await overdueList();
    const listedIds = listed.map((r) => r.id);
    expect(listedIds).toEqual(expect.arrayContaining([restriction.id, rectification.id, access.id]));
    expect(listedIds).not.toContain(notYet.id);
    for (const r of listed) {
      expect(r.overdue).toBe(true);
      expect(r.completedAt).toBeNull();
    }

    await read(OFFICER, 'mutation { restrictProcessing(personId: "per-1-0029", restricted: true) { restricted } }');
    await read(asPerson('per-1-0059'), 'mutation { rectify(personId: "per-1-0059", input: { phone: "+33 1 23 45 67 89" }) { phone } }');
    await read(asPerson('per-1-0016'), '{ me { export } }');

    const afterwards = (await overdueList()).map((r) => r.id);
    for (const [personId, filed] of [['per-1-0029', restriction], ['per-1-0059', rectification], ['per-1-0016', access]] as const) {
      expect(afterwards).not.toContain(filed.id);
      const sameKind = (await requestsOf(personId)).filter((r) => r.kind === filed.kind);
      // Carried out, the filed request is completed rather than joined by a second one.
      expect(sameKind.map((r) => r.id)).toEqual([filed.id]);
      expect(sameKind[0]!.completedAt).not.toBeNull();
      expect(sameKind[0]!.overdue).toBe(false);
    }
  });

  it('unknown people: NOT_FOUND for every mutation, nothing changes', async () => {
    const before = await snapshot();
    for (const [name, mutation] of Object.entries(MUTATIONS)) {
      const response = await call(OFFICER, mutation, { p: 'per-9-9999' });
      expect(codeOf(response), name).toBe('NOT_FOUND');
    }
    expect(await snapshot()).toEqual(before);
  });

  it('bad input: empty consent, invalid corrections are refused naming the field, never echoing the value', async () => {
    const personId = 'per-1-0050';
    const before = await snapshot();
    const empty = await call(OFFICER, 'mutation($p: ID!) { setConsent(personId: $p, input: {}) { marketing } }', { p: personId });
    expect(codeOf(empty)).toBe('BAD_USER_INPUT');

    const invalid: { field: string; input: Record<string, unknown>; value: string }[] = [
      { field: 'email', input: { email: 'not-an-email-zq81' }, value: 'not-an-email-zq81' },
      { field: 'ageRange', input: { ageRange: 'under-13' }, value: 'under-13' },
      { field: 'country', input: { billingAddress: { line1: '1 Main St', city: 'Springfield', country: 'Atlantisq' } }, value: 'Atlantisq' },
      { field: 'residency', input: { residency: 'Narnia-Westq' }, value: 'Narnia-Westq' },
    ];
    for (const { field, input, value } of invalid) {
      const response = await call(OFFICER, 'mutation($p: ID!, $i: RectifyInput!) { rectify(personId: $p, input: $i) { id } }', { p: personId, i: input });
      expect(codeOf(response), field).toBe('BAD_USER_INPUT');
      const messages = (response.body.errors ?? []).map((e) => e.message).join(' ');
      expect(messages, field).toContain(field);
      expect(JSON.stringify(response.body), field).not.toContain(value);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("a person acting on someone else's id is answered NOT_FOUND, nothing changes", async () => {
    const me = asPerson('per-1-0050');
    const before = await snapshot();
    for (const [name, mutation] of Object.entries(MUTATIONS)) {
      const response = await call(me, mutation, { p: 'per-1-0051' });
      expect(codeOf(response), name).toBe('NOT_FOUND');
    }
    const theirs = await call(me, 'query($p: ID) { dataSubjectRequests(personId: $p) { edges { node { id } } } }', { p: 'per-1-0051' });
    expect(codeOf(theirs)).toBe('NOT_FOUND');
    expect(await snapshot()).toEqual(before);
  });

  it('organizers and support agents are refused every mutation before anything is read or written', async () => {
    const callers: Caller[] = [
      { roles: ['organizer_admin'], sub: 'admin@northwind-live', tenant: 'northwind-live', purpose: 'ticketing' },
      { roles: ['organizer_admin'], sub: 'admin@northwind-live', tenant: 'northwind-live', purpose: 'audience-insights' },
      { roles: ['organizer_staff'], sub: 'door@harbor-jazz', tenant: 'harbor-jazz', purpose: 'event-checkin' },
      { roles: ['support_agent'], sub: 'agent-1', purpose: 'customer-support' },
    ];
    const before = await snapshot();
    for (const caller of callers) {
      for (const [name, mutation] of Object.entries(MUTATIONS)) {
        const statements = fixture.database.app.statements.count;
        const response = await call(caller, mutation, { p: 'per-1-0050' });
        expect(response.status, `${caller.purpose} ${name}`).toBe(403);
        expect(codeOf(response)).toBe('FIELD_NOT_PERMITTED');
        expect(response.body.errors?.[0]?.extensions?.fields).toContain(`Mutation.${name}`);
        expect(fixture.database.app.statements.count, `${caller.purpose} ${name}`).toBe(statements);
      }
    }
    expect(await snapshot()).toEqual(before);
  });

  it('a valid correction is stored and the next read shows it', async () => {
    const personId = 'per-1-0052';
    const correction = {
      name: 'Robin Corrected',
      email: 'robin.corrected.52@example.com',
      phone: '+1 555 010 0052',
      ageRange: '35-44',
      billingAddress: { line1: '12 Corrected Ave', city: 'Portland', region: 'OR', postalCode: '97201', country: 'US' },
    };
    const fields = 'id name email phone ageRange billingAddress { line1 city region postalCode country }';
    const response = await read<{ rectify: Record<string, unknown> }>(
      asPerson(personId),
      `mutation($p: ID!, $i: RectifyInput!) { rectify(personId: $p, input: $i) { ${fields} } }`,
      { p: personId, i: correction },
    );
    const expected = { id: personId, ...correction };
    expect(response.rectify).toEqual(expected);
    const officer = await read<{ dataSubject: Record<string, unknown> }>(OFFICER, `query($p: ID!) { dataSubject(personId: $p) { ${fields} } }`, {
      p: personId,
    });
    expect(officer.dataSubject).toEqual(expected);
    const self = await read<{ me: Record<string, unknown> }>(asPerson(personId), `{ me { ${fields} } }`);
    expect(self.me).toEqual(expected);
    const stored = await owner().selectFrom('people').select(['name', 'email', 'phone']).where('id', '=', personId).executeTakeFirstOrThrow();
    expect(stored).toEqual({ name: correction.name, email: correction.email, phone: correction.phone });
    const [record] = (await requestsOf(personId)).filter((r) => r.kind === 'RECTIFICATION');
    expect(record).toMatchObject({ requestedBy: personId, requestedByRole: 'data_subject' });
    expect(Date.parse(record!.dueAt) - Date.parse(record!.requestedAt)).toBe(45 * DAY);
  });
});
