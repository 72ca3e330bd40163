/**
 * The whole need-to-know matrix of ../shared/spec/POLICY.md, cell by cell, over real HTTP.
 *
 * The expected table below is transcribed by hand from POLICY.md, and the masks are written here
 * again from POLICY.md's words: this test must not read schema/policy.yaml or the masking views' SQL,
 * or a wrong policy would agree with itself.
 */
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/tables.js';
import { createTestDatabase, DATABASE_KINDS, type TestDatabase } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';
import { startTestGateway, type GraphQLResponse, type TestGateway } from './support/test-gateway.js';
import { POLICY_MD_PURPOSES } from './support/policy-md.js';

type Cell = 'full' | 'partial' | 'hash' | 'agg' | '—';

/** POLICY.md's purpose columns, in its order, then security-audit (no column: it reads no personal field). */
const POLICY_COLUMNS = POLICY_MD_PURPOSES;
type Purpose = (typeof POLICY_COLUMNS)[number] | 'security-audit';

// Kept in POLICY.md's own layout so that a reviewer can hold the two side by side.
const POLICY_TABLE = `
name           | full | full         | full | full | full | —   | —    | full    | full | full | —   | full | full
email          | full | partial      | full | full | full | —   | hash | full    | full | —    | —   | full | full
phone          | —    | —            | —    | full | —    | —   | —    | partial | —    | —    | —   | full | full
billingAddress | —    | —            | —    | —    | —    | —   | —    | —       | full | full | —   | full | full
ageRange       | —    | —            | —    | —    | —    | agg | —    | —       | —    | —    | agg | full | full
enrichment     | —    | —            | —    | —    | full | —   | —    | —       | —    | —    | —   | full | full
orders         | full | tickets only | —    | —    | full | —   | —    | full    | full | full | agg | full | full
paymentRef     | —    | —            | —    | —    | —    | —   | —    | —       | full | full | —   | full | full
device         | —    | —            | —    | —    | —    | —   | —    | —       | full | —    | —   | full | full
relationships  | —    | —            | —    | —    | full | —   | —    | —       | —    | —    | —   | full | full
consent        | full | —            | full | —    | full | —   | full | full    | —    | —    | —   | full | full
usage          | —    | —            | —    | —    | —    | —   | —    | —       | —    | —    | agg | full | full
supportCases   | —    | —            | —    | —    | —    | —   | —    | full    | —    | —    | —   | full | full
`;

const ROLE_PURPOSES: Record<string, Purpose[]> = {
  organizer_admin: ['ticketing', 'event-communication', 'audience-insights', 'grant-reporting', 'marketing'],
  organizer_staff: ['event-checkin'],
  notification_service: ['event-reminders'],
  support_agent: ['customer-support'],
  fraud_analyst: ['fraud-prevention', 'payment-processing'],
  analyst: ['analytics'],
  security_reviewer: ['security-audit'],
  privacy_officer: ['legal-compliance'],
  data_subject: ['self-service'],
};
const TENANT_ROLES = new Set(['organizer_admin', 'organizer_staff']);
const TENANT = 'northwind-live';
/** Has every kind of row in the demo (orders in two tenants, relationships, usage, a support case). */
const SUBJECT = 'per-1-0037';
/** Purposes that may not even read the pseudonymous attendee id (and so not list attendees at all). */
const ID_REFUSED = new Set<Purpose>(['grant-reporting', 'analytics', 'security-audit']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface OrderData {
  placedAt: string;
  totalCents: number;
  currency: string;
  status: string;
  paymentRef: string | null;
  tickets: { id: string; type: string; checkedInAt: string | null }[];
}

interface ConsentData {
  marketing: boolean;
  enrichment: boolean;
  doNotSell: boolean;
  restricted: boolean;
  objection: boolean;
}

/** What the owner reads about a person, straight from the tables. */
interface PersonData {
  personId: string | null;
  erased: boolean;
  name: string | null;
  email: string | null;
  phone: string | null;
  billingAddress: { line1: string | null; city: string | null; region: string | null; postalCode: string | null; country: string | null } | null;
  ageRange: string | null;
  company: string | null;
  jobTitle: string | null;
  industry: string | null;
  webPresence: string | null;
  consent: ConsentData | null;
  devices: { ip: string; userAgent: string }[];
  usage: { at: string; page: string; feature: string }[];
  supportCases: { id: string; subject: string; body: string }[];
}

interface AttendeeData extends PersonData {
  tenantId: string;
  id: string;
  orders: OrderData[];
  relationships: { kind: string; direction: 'OUTGOING' | 'INCOMING'; otherPersonId: string | null }[];
}

interface OwnerView {
  attendees: AttendeeData[];
  people: Map<string, PersonData>;
}

type Holder = PersonData | AttendeeData;
const isAttendee = (holder: Holder): holder is AttendeeData => 'orders' in holder;

interface RowSpec {
  /** Selection on Attendee (and on DataSubject for `me`, unless `viaAttendances`). */
  selection: string;
  /** Every `Type.field` the selection touches on Attendee. */
  names: string[];
  /** Names that may be readable although the row is refused (door staff read orders for their tickets). */
  optional?: string[];
  /** DataSubject has no such field: `me` reaches it through `attendances`. */
  viaAttendances?: boolean;
  /** The scalar Attendee field a partial or hash mask applies to. */
  maskable?: 'email' | 'phone';
  /** The value the owner sees, shaped as the selection's JSON. */
  project(holder: Holder): JsonObject;
}

const ordersOf = (holder: Holder): OrderData[] => (isAttendee(holder) ? holder.orders : []);

const ROWS: Record<string, RowSpec> = {
  name: { selection: 'name', names: ['Attendee.name'], project: (h) => ({ name: h.name }) },
  email: { selection: 'email', names: ['Attendee.email'], maskable: 'email', project: (h) => ({ email: h.email }) },
  phone: { selection: 'phone', names: ['Attendee.phone'], maskable: 'phone', project: (h) => ({ phone: h.phone }) },
  billingAddress: {
    selection: 'billingAddress { line1 city region postalCode country }',
    names: ['Attendee.billingAddress', 'Address.line1', 'Address.city', 'Address.region', 'Address.postalCode', 'Address.country'],
    project: (h) => ({ billingAddress: h.billingAddress }),
  },
  ageRange: { selection: 'ageRange', names: ['Attendee.ageRange'], project: (h) => ({ ageRange: h.ageRange }) },
  enrichment: {
    selection: 'company jobTitle industry webPresence',
    names: ['Attendee.company', 'Attendee.jobTitle', 'Attendee.industry', 'Attendee.webPresence'],
    project: (h) => ({ company: h.company, jobTitle: h.jobTitle, industry: h.industry, webPresence: h.webPresence }),
  },
  orders: {
    selection: 'orders { placedAt totalCents currency status }',
    names: ['Attendee.orders', 'Order.placedAt', 'Order.totalCents', 'Order.currency', 'Order.status'],
    optional: ['Attendee.orders'],
    viaAttendances: true,
    project: (h) => ({
      orders: ordersOf(h).map((o) => ({ placedAt: o.placedAt, totalCents: o.totalCents, currency: o.currency, status: o.status })),
    }),
  },
  tickets: {
    selection: 'orders { tickets { id type checkedInAt } }',
    names: ['Attendee.orders', 'Order.tickets', 'Ticket.id', 'Ticket.type', 'Ticket.checkedInAt'],
    viaAttendances: true,
    project: (h) => ({ orders: ordersOf(h).map((o) => ({ tickets: o.tickets })) }),
  },
  paymentRef: {
    selection: 'orders { paymentRef }',
    names: ['Attendee.orders', 'Order.paymentRef'],
    optional: ['Attendee.orders'],
    viaAttendances: true,
    project: (h) => ({ orders: ordersOf(h).map((o) => ({ paymentRef: o.paymentRef })) }),
  },
  device: {
    selection: 'devices { ip userAgent }',
    names: ['Attendee.devices', 'Device.ip', 'Device.userAgent'],
    project: (h) => ({ devices: h.devices }),
  },
  relationships: {
    selection: 'relationships { kind direction }',
    names: ['Attendee.relationships', 'Relationship.kind', 'Relationship.direction'],
    viaAttendances: true,
    project: (h) => ({
      relationships: isAttendee(h) ? h.relationships.map(({ kind, direction }) => ({ kind, direction })) : [],
    }),
  },
  consent: {
    selection: 'consent { marketing enrichment doNotSell restricted objection }',
    names: ['Attendee.consent', 'ConsentState.marketing', 'ConsentState.enrichment', 'ConsentState.doNotSell', 'ConsentState.restricted', 'ConsentState.objection'],
    project: (h) => ({ consent: h.consent === null ? null : { ...h.consent } }),
  },
  usage: {
    selection: 'usage { at page feature }',
    names: ['Attendee.usage', 'UsageEvent.at', 'UsageEvent.page', 'UsageEvent.feature'],
    project: (h) => ({ usage: h.usage }),
  },
  supportCases: {
    selection: 'supportCases { id subject body }',
    names: ['Attendee.supportCases', 'SupportCase.id', 'SupportCase.subject', 'SupportCase.body'],
    project: (h) => ({ supportCases: h.supportCases }),
  },
};

/** The table, one cell per (purpose, test row); "tickets only" splits into the orders and tickets rows. */
function expectedMatrix(): Map<string, Map<Purpose, Cell>> {
  const matrix = new Map<string, Map<Purpose, Cell>>();
  const cellOf = (text: string): Cell => {
    if (text === 'full' || text === 'partial' || text === 'hash' || text === 'agg' || text === '—') return text;
    throw new Error(`not a cell: ${text}`);
  };
  for (const line of POLICY_TABLE.trim().split('\n')) {
    const [row, ...cells] = line.split('|').map((part) => part.trim());
    if (row === undefined || cells.length !== POLICY_COLUMNS.length) throw new Error(`bad transcription: ${line}`);
    const put = (name: string, values: Cell[]) => {
      const byPurpose = new Map<Purpose, Cell>(POLICY_COLUMNS.map((purpose, i) => [purpose, values[i]!]));
      byPurpose.set('security-audit', '—');
      matrix.set(name, byPurpose);
    };
    if (row === 'orders') {
      put('orders', cells.map((c) => (c === 'tickets only' ? '—' : cellOf(c))));
      put('tickets', cells.map((c) => (c === 'tickets only' ? 'full' : cellOf(c))));
    } else {
      put(row, cells.map(cellOf));
    }
  }
  return matrix;
}

// POLICY.md: "email keeps the first character of the local part and the whole domain".
function expectedPartialEmail(email: string): string {
  const match = /^(.)[^@]*(@[^@]+)$/.exec(email);
  if (match === null) throw new Error(`the demo holds a malformed email: ${email}`);
  return `${match[1]}***${match[2]}`;
}

// POLICY.md: "phone keeps the last 4 digits".
function expectedPartialPhone(phone: string): string {
  return `***-${phone.replace(/[^0-9]/g, '').slice(-4)}`;
}

// POLICY.md: SHA-256, hex, of the normalised value (an email trimmed and lower-cased).
function expectedEmailHash(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex');
}

/**
 * Whether POLICY.md's per-person consent rules could change this person's cell. Those rules are
 * not implemented yet and are not what this matrix checks; leaving such people out keeps the
 * matrix true once they are.
 */
function consentMayAffect(person: PersonData, purpose: Purpose, row: string, others: (PersonData | undefined)[]): boolean {
  if (person.erased) return true;
  const consent = person.consent;
  if (consent === null) return false;
  if (consent.restricted && purpose !== 'legal-compliance' && purpose !== 'self-service') return true;
  if (purpose === 'marketing' && (!consent.marketing || consent.doNotSell)) return true;
  if (consent.objection && ['audience-insights', 'marketing', 'grant-reporting', 'analytics'].includes(purpose)) return true;
  if (!consent.enrichment && (row === 'enrichment' || row === 'relationships')) return true;
  // A relationship is about both ends: the other person's opt-out can hide it as well.
  if (row === 'relationships') return others.some((other) => other === undefined || consentMayAffect(other, purpose, 'enrichment', []));
  return false;
}

const iso = (value: Date | string): string => new Date(value).toISOString();
const isoOrNull = (value: Date | string | null): string | null => (value === null ? null : iso(value));

async function loadOwnerView(db: Kysely<Database>): Promise<OwnerView> {
  const [peopleRows, deviceRows, usageRows, caseRows, attendeeRows, orderRows, ticketRows, relationshipRows] = await Promise.all([
    db
      .selectFrom('people as p')
      .leftJoin('consents as c', 'c.person_id', 'p.id')
      .leftJoin('enrichments as en', 'en.person_id', 'p.id')
      .select([
        'p.id', 'p.name', 'p.email', 'p.phone', 'p.age_range',
        'p.billing_line1', 'p.billing_city', 'p.billing_region', 'p.billing_postal_code', 'p.billing_country',
        'c.person_id as consent_person', 'c.marketing', 'c.enrichment', 'c.do_not_sell', 'c.restricted', 'c.objection',
        'en.company', 'en.job_title', 'en.industry', 'en.web_presence',
      ])
      .execute(),
    db.selectFrom('devices').selectAll().execute(),
    db.selectFrom('usage_events').selectAll().execute(),
    db.selectFrom('support_cases').selectAll().execute(),
    db.selectFrom('attendees').select(['tenant_id', 'id', 'person_id']).execute(),
    db.selectFrom('orders').selectAll().execute(),
    db.selectFrom('tickets').selectAll().execute(),
    db.selectFrom('relationships').selectAll().execute(),
  ]);
  const people = new Map<string, PersonData>();
  for (const p of peopleRows) {
    const hasAddress = [p.billing_line1, p.billing_city, p.billing_region, p.billing_postal_code, p.billing_country].some((v) => v !== null);
    people.set(p.id, {
      personId: p.id,
      erased: false, // an erased person has no people row: see the attendee without a person below
      name: p.name,
      email: p.email,
      phone: p.phone,
      billingAddress: hasAddress
        ? { line1: p.billing_line1, city: p.billing_city, region: p.billing_region, postalCode: p.billing_postal_code, country: p.billing_country }
        : null,
      ageRange: p.age_range,
      company: p.company,
      jobTitle: p.job_title,
      industry: p.industry,
      webPresence: p.web_presence,
      consent:
        p.consent_person === null
          ? null
          : {
              marketing: p.marketing === true,
              enrichment: p.enrichment === true,
              doNotSell: p.do_not_sell === true,
              restricted: p.restricted === true,
              objection: p.objection === true,
            },
      devices: deviceRows.filter((d) => d.person_id === p.id).map((d) => ({ ip: d.ip, userAgent: d.user_agent })),
      usage: usageRows.filter((u) => u.person_id === p.id).map((u) => ({ at: iso(u.at), page: u.page, feature: u.feature })),
      supportCases: caseRows.filter((s) => s.person_id === p.id).map((s) => ({ id: s.id, subject: s.subject, body: s.body })),
    });
  }
  const nobody: PersonData = {
    personId: null, erased: true, name: null, email: null, phone: null, billingAddress: null, ageRange: null,
    company: null, jobTitle: null, industry: null, webPresence: null, consent: null, devices: [], usage: [], supportCases: [],
  };
  const personOfAttendee = new Map(attendeeRows.map((a) => [`${a.tenant_id}/${a.id}`, a.person_id]));
  const attendees = attendeeRows.map((a): AttendeeData => ({
    ...(a.person_id === null ? nobody : (people.get(a.person_id) ?? nobody)),
    tenantId: a.tenant_id,
    id: a.id,
    orders: orderRows
      .filter((o) => o.tenant_id === a.tenant_id && o.attendee_id === a.id)
      .map((o) => ({
        placedAt: iso(o.placed_at),
        totalCents: o.total_cents,
        currency: o.currency,
        status: o.status,
        paymentRef: o.payment_ref,
        tickets: ticketRows
          .filter((t) => t.tenant_id === o.tenant_id && t.order_id === o.id)
          .map((t) => ({ id: t.id, type: t.type, checkedInAt: isoOrNull(t.checked_in_at) })),
      })),
    relationships: relationshipRows
      .filter((r) => r.tenant_id === a.tenant_id && (r.from_attendee_id === a.id || r.to_attendee_id === a.id))
      .map((r) => {
        const outgoing = r.from_attendee_id === a.id;
        const other = outgoing ? r.to_attendee_id : r.from_attendee_id;
        return { kind: r.kind, direction: outgoing ? 'OUTGOING' : 'INCOMING', otherPersonId: personOfAttendee.get(`${r.tenant_id}/${other}`) ?? null };
      }),
  }));
  return { attendees, people };
}

const DATE_KEYS = new Set(['placedAt', 'checkedInAt', 'at']);

/** Lists compare as multisets (POLICY.md fixes no order) and date-times as instants. */
function canonical(value: Json, key?: string): Json {
  if (Array.isArray(value)) {
    return value.map((item) => canonical(item)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v, k)]));
  }
  if (typeof value === 'string' && key !== undefined && DATE_KEYS.has(key)) return iso(value);
  return value;
}

const asObject = (value: Json | undefined, what: string): JsonObject => {
  if (value === null || value === undefined || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value;
};
const asArray = (value: Json | undefined, what: string): Json[] => {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`);
  return value;
};

interface MatrixCase {
  title: string;
  role: string;
  purpose: Purpose;
  row: string;
  cell: Cell;
}

const MATRIX = expectedMatrix();
const CASES: MatrixCase[] = Object.entries(ROLE_PURPOSES).flatMap(([role, purposes]) =>
  purposes.flatMap((purpose) =>
    Object.keys(ROWS).map((row) => {
      const cell = MATRIX.get(row)?.get(purpose);
      if (cell === undefined) throw new Error(`no cell for ${row} × ${purpose}`);
      return { title: `${role} / ${purpose} / ${row}: ${cell}`, role, purpose, row, cell };
    }),
  ),
);

describe('the transcribed matrix', () => {
  it('has a cell for every purpose of every role and every field row of POLICY.md', () => {
    expect([...MATRIX.keys()].sort()).toEqual(Object.keys(ROWS).sort());
    expect(CASES).toHaveLength(14 * 14);
    // Spot checks against the prose of POLICY.md, so a slip in the table above shows up here too.
    expect(MATRIX.get('email')?.get('event-checkin')).toBe('partial');
    expect(MATRIX.get('phone')?.get('customer-support')).toBe('partial');
    expect(MATRIX.get('email')?.get('marketing')).toBe('hash');
    for (const organizerPurpose of ROLE_PURPOSES.organizer_admin!.concat(ROLE_PURPOSES.organizer_staff!)) {
      for (const row of ['phone', 'billingAddress', 'paymentRef', 'device']) expect(MATRIX.get(row)?.get(organizerPurpose)).toBe('—');
    }
  });
});

describe.each(DATABASE_KINDS)('POLICY.md need-to-know matrix over HTTP (%s)', (kind) => {
  let database: TestDatabase;
  let keys: TestKeys;
  let gateway: TestGateway;
  let owner: OwnerView;

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    keys = await createTestKeys();
    gateway = await startTestGateway({ database: database.app, auth: keys.auth });
    owner = await loadOwnerView(database.owner.db);
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  const tokenFor = (role: string) =>
    role === 'data_subject'
      ? keys.sign({ roles: [role], sub: SUBJECT })
      : keys.sign({ roles: [role], ...(TENANT_ROLES.has(role) ? { tenant: TENANT } : {}) });

  const queryFor = (role: string, purpose: Purpose, spec: RowSpec, withMasked: boolean): string => {
    const masked = withMasked ? ' masked { field reason }' : '';
    if (role === 'data_subject') {
      return spec.viaAttendances ? `{ me { attendances { id ${spec.selection} } } }` : `{ me { ${spec.selection}${masked} } }`;
    }
    const id = ID_REFUSED.has(purpose) ? '' : 'id ';
    return `{ attendees(first: 500) { edges { node { ${id}${spec.selection}${masked} } } } }`;
  };

  /** What the cell lets the caller see of one holder, in the selection's JSON shape. */
  const expectedValue = (spec: RowSpec, cell: Cell, holder: Holder): JsonObject => {
    if (cell === 'full') return spec.project(holder);
    const field = spec.maskable;
    if (field === undefined) throw new Error(`POLICY.md gives no ${cell} rule for this row`);
    const raw = holder[field];
    if (raw === null) return { [field]: null };
    if (cell === 'hash' && field === 'email') return { email: expectedEmailHash(raw) };
    if (cell === 'partial') return { [field]: field === 'email' ? expectedPartialEmail(raw) : expectedPartialPhone(raw) };
    throw new Error(`POLICY.md gives no ${cell} rule for ${field}`);
  };

  const send = async (role: string, purpose: Purpose, query: string): Promise<GraphQLResponse<JsonObject>> =>
    gateway.request<JsonObject>({ query, token: await tokenFor(role), purpose });

  it.each(CASES.map((c) => [c.title, c] as const))('%s', async (_title, { role, purpose, row, cell }) => {
    const spec = ROWS[row]!;
    const readable = cell === 'full' || cell === 'partial' || cell === 'hash';
    const query = queryFor(role, purpose, spec, cell === 'partial');
    const before = database.app.statements.count;
    const response = await send(role, purpose, query);

    if (!readable) {
      // `agg` and `—` alike: never per person, refused before anything is read.
      expect(response.status, query).toBe(403);
      expect(response.body.data, query).toBeUndefined();
      const error = response.body.errors?.[0];
      expect(error?.extensions?.code, query).toBe('FIELD_NOT_PERMITTED');
      const host = role === 'data_subject' && !spec.viaAttendances ? 'DataSubject.' : 'Attendee.';
      const names = spec.names.map((name) => name.replace(/^Attendee\./, host));
      const required = names.filter((name) => !(spec.optional ?? []).includes(name));
      const reported = error?.extensions?.fields ?? [];
      expect(reported, query).toEqual(expect.arrayContaining(required));
      // Nothing outside the selection: the root field at most, for purposes that may not list people.
      const selected = new Set([...names, 'Query.attendees', 'Query.me', 'DataSubject.attendances']);
      expect(reported.filter((name) => !selected.has(name)), query).toEqual([]);
      expect(database.app.statements.count, 'a refused request ran SQL').toBe(before);
      return;
    }

    expect(response.status, query).toBe(200);
    expect(response.body.errors, query).toBeUndefined();
    const data = asObject(response.body.data ?? null, 'data');

    if (role === 'data_subject') {
      const person = owner.people.get(SUBJECT)!;
      const me = asObject(data.me, 'me');
      if (spec.viaAttendances) {
        const mine = owner.attendees.filter((a) => a.personId === SUBJECT);
        expect(mine.length).toBeGreaterThan(0);
        const expected = mine.map((a) => ({ id: a.id, ...expectedValue(spec, cell, a) }));
        expect(canonical(me), query).toEqual(canonical({ attendances: expected }));
      } else {
        expect(canonical(me), query).toEqual(canonical(expectedValue(spec, cell, person)));
      }
      return;
    }

    const inScope = owner.attendees.filter((a) => !TENANT_ROLES.has(role) || a.tenantId === TENANT);
    const byId = new Map(inScope.map((a) => [a.id, a]));
    const nodes = asArray(asObject(data.attendees, 'attendees').edges, 'edges').map((edge) => asObject(asObject(edge, 'edge').node, 'node'));
    const returnedIds = nodes.map((node) => String(node.id));
    // Nobody outside the caller's scope, and everybody inside it whom no opt-out could remove.
    expect(returnedIds.filter((id) => !byId.has(id)), 'attendees outside the scope').toEqual([]);
    const checked = inScope.filter(
      (a) => !consentMayAffect(a, purpose, row, a.relationships.map((r) => (r.otherPersonId === null ? undefined : owner.people.get(r.otherPersonId)))),
    );
    expect(checked.length).toBeGreaterThan(0);
    expect(returnedIds, 'attendees missing from the list').toEqual(expect.arrayContaining(checked.map((a) => a.id)));

    const nodeById = new Map(nodes.map((node) => [String(node.id), node]));
    const actual: Json[] = [];
    const expected: Json[] = [];
    for (const attendee of checked) {
      const { masked, ...node } = nodeById.get(attendee.id)!;
      actual.push(node);
      expected.push({ id: attendee.id, ...expectedValue(spec, cell, attendee) });
      if (cell === 'partial') {
        const field = spec.maskable!;
        const forField = asArray(masked, 'masked').filter((entry) => asObject(entry, 'masked entry').field === field);
        expect(forField, `masked of ${attendee.id}`).toEqual(attendee[field] === null ? [] : [{ field, reason: 'PARTIAL' }]);
      }
    }
    expect(canonical(actual), query).toEqual(canonical(expected));
  });

  describe('known values from fixtures/demo.json', () => {
    const QUINN = { email: 'quinn.fischer.1@example.net', phone: '+15556826027', city: 'Leipzig', paymentRef: 'pi_63z000001' };

    const nodesOf = async (personId: string, role: string, purpose: Purpose, selection: string): Promise<JsonObject[]> => {
      const response = await send(role, purpose, `{ attendees(first: 500) { edges { node { id ${selection} } } } }`);
      expect(response.body.errors).toBeUndefined();
      const ids = new Set(owner.attendees.filter((a) => a.personId === personId).map((a) => a.id));
      const nodes = asArray(asObject(asObject(response.body.data ?? null, 'data').attendees, 'attendees').edges, 'edges')
        .map((edge) => asObject(asObject(edge, 'edge').node, 'node'))
        .filter((node) => ids.has(String(node.id)));
      expect(nodes.length).toBeGreaterThan(0);
      return nodes;
    };

    const quinnNodes = (role: string, purpose: Purpose, selection: string) => nodesOf('per-1-0001', role, purpose, selection);

    it('per-1-0001 reads as stored or masked exactly as POLICY.md shows', async () => {
      for (const node of await quinnNodes('notification_service', 'event-reminders', 'phone email')) {
        expect(node).toMatchObject({ phone: QUINN.phone, email: QUINN.email });
      }
      for (const node of await quinnNodes('support_agent', 'customer-support', 'phone')) expect(node.phone).toBe('***-6027');
      for (const node of await quinnNodes('organizer_staff', 'event-checkin', 'email')) expect(node.email).toBe('q***@example.net');
      for (const node of await quinnNodes('privacy_officer', 'legal-compliance', 'billingAddress { city } orders { paymentRef }')) {
        expect(node).toMatchObject({ billingAddress: { city: QUINN.city }, orders: [{ paymentRef: QUINN.paymentRef }] });
      }
      for (const node of await quinnNodes('fraud_analyst', 'fraud-prevention', 'devices { ip userAgent }')) {
        expect(node.devices).toEqual([{ ip: '203.0.113.33', userAgent: 'Mozilla/5.0 (Windows NT 10.0)' }]);
      }
    });

    it('marketing reads a consenting person\'s email as the SHA-256 hex of the normalised address', async () => {
      // per-1-0031 consented to marketing: per-1-0001 did not, and would be left out of the list.
      for (const node of await nodesOf('per-1-0031', 'organizer_admin', 'marketing', 'email')) {
        expect(node.email).toBe(createHash('sha256').update('zoe.nakamura.31@example.net').digest('hex'));
      }
    });

    it('a query string allowed for one purpose is refused for the next (no validation result is reused across callers)', async () => {
      const query = '{ attendees(first: 1) { edges { node { id phone } } } }';
      expect((await send('notification_service', 'event-reminders', query)).status).toBe(200);
      const before = database.app.statements.count;
      const replay = await send('fraud_analyst', 'fraud-prevention', query);
      expect(replay.status).toBe(403);
      expect(replay.body.errors?.[0]?.extensions?.fields).toEqual(['Attendee.phone']);
      expect(database.app.statements.count).toBe(before);
    });

    it('the data subject reads their own fixture values', async () => {
      const response = await send('data_subject', 'self-service', '{ me { name phone company } }');
      expect(response.body.errors).toBeUndefined();
      const person = owner.people.get(SUBJECT)!;
      expect(response.body.data?.me).toEqual({ name: person.name, phone: person.phone, company: person.company });
      expect(person.company).not.toBeNull();
    });

    it('the demo has missing phone, age range and enrichment, which read as null in full cells', () => {
      expect(owner.attendees.some((a) => a.phone === null)).toBe(true);
      expect(owner.attendees.some((a) => a.ageRange === null)).toBe(true);
      expect(owner.attendees.some((a) => a.company === null)).toBe(true);
    });
  });
});
