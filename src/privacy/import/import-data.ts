import type { Insertable, Kysely } from 'kysely';
import {
  ensureAttendees,
  existingEvents,
  existingPeople,
  existingTenants,
  insertMissing,
  type ImportProgress,
} from '../../db/queries/import-writes.js';
import { erasedAmong } from '../../db/queries/data-subject-requests.js';
import { withScope } from '../../db/request-scope.js';
import type { Database } from '../../db/tables.js';
import type { ImportFile } from './import-format.js';
import {
  checkReferences,
  ImportRefusedError,
  unresolvedReferenceProblems,
  validateShape,
  type ExternalReferences,
} from './validate-import.js';

/** Rows written per table; rows already present are left as they are and not counted. */
export type ImportReport = Record<string, number>;

/**
 * Imports a file in the import format, all or nothing: every row is checked first and every
 * problem is reported together; then everything is written in one transaction as the owner.
 * Re-importing the same file writes nothing.
 */
export interface ImportOptions {
  /** Reported after each batch written (the seed command prints it for long imports). */
  progress?: ImportProgress;
}

export async function importData(db: Kysely<Database>, input: unknown, options: ImportOptions = {}): Promise<ImportReport> {
  // Later checks run on the rows that passed the earlier ones, so one refusal names every bad row.
  const { file, problems } = validateShape(input);
  const references = checkReferences(file);
  problems.push(...references.problems);

  return withScope(db, { kind: 'maintenance' }, async (trx) => {
    const missing = await findMissing(trx, references.external);
    problems.push(...unresolvedReferenceProblems(file, missing));
    if (problems.length > 0) throw new ImportRefusedError(problems);
    // An erased person must never come back from an old file: every row about them is skipped.
    const erased = await erasedAmong(trx, [...new Set([...file.people.map((p) => p.id), ...references.external.people])]);
    const report = await writeRows(trx, withoutPeople(file, erased), options.progress);
    report.skippedErasedPeople = erased.size;
    return report;
  });
}

function withoutPeople(file: ImportFile, erased: ReadonlySet<string>): ImportFile {
  if (erased.size === 0) return file;
  const keep = (person: string) => !erased.has(person);
  return {
    ...file,
    people: file.people.filter((p) => keep(p.id)),
    orders: file.orders.filter((o) => keep(o.person)),
    relationships: file.relationships.filter((r) => keep(r.from) && keep(r.to)),
    usageEvents: file.usageEvents.filter((u) => keep(u.person)),
    supportCases: file.supportCases.filter((c) => keep(c.person)),
  };
}

async function findMissing(db: Kysely<Database>, external: ExternalReferences): Promise<ExternalReferences> {
  const [tenants, events, people] = await Promise.all([
    existingTenants(db, [...external.tenants]),
    existingEvents(db, [...external.events]),
    existingPeople(db, [...external.people]),
  ]);
  return {
    tenants: new Set([...external.tenants].filter((id) => !tenants.has(id))),
    events: new Set([...external.events].filter((key) => !events.has(key))),
    people: new Set([...external.people].filter((id) => !people.has(id))),
  };
}

/** Every table in batches (see insertMissing), all inside the caller's one transaction. */
async function writeRows(db: Kysely<Database>, file: ImportFile, progress: ImportProgress | undefined): Promise<ImportReport> {
  const insert = <T extends keyof Database & string>(table: T, rows: readonly Insertable<Database[T]>[]) => insertMissing(db, table, rows, progress);
  const report: ImportReport = {};
  report.tenants = await insert('tenants', file.tenants.map((t) => ({ id: t.id, name: t.name })));
  report.events = await insert(
    'events',
    file.events.map((e) => ({ tenant_id: e.tenant, id: e.id, name: e.name, venue: e.venue ?? null, starts_at: e.startsAt })),
  );
  report.people = await insert(
    'people',
    file.people.map((p) => ({
      id: p.id,
      name: p.name,
      email: p.email,
      phone: p.phone ?? null,
      billing_line1: p.billingAddress?.line1 ?? null,
      billing_city: p.billingAddress?.city ?? null,
      billing_region: p.billingAddress?.region ?? null,
      billing_postal_code: p.billingAddress?.postalCode ?? null,
      billing_country: p.billingAddress?.country ?? null,
      age_range: p.ageRange ?? null,
      residency: p.residency,
      created_at: p.createdAt,
      last_active_at: p.lastActiveAt ?? null,
    })),
  );
  report.consents = await insert(
    'consents',
    file.people.map((p) => ({
      person_id: p.id,
      marketing: p.consent.marketing,
      enrichment: p.consent.enrichment,
      do_not_sell: p.consent.doNotSell,
      restricted: p.consent.restricted,
      objection: p.consent.objection,
    })),
  );
  report.enrichments = await insert(
    'enrichments',
    file.people.flatMap((p) =>
      p.enrichment === undefined
        ? []
        : [
            {
              person_id: p.id,
              source: p.enrichment.source,
              company: p.enrichment.company ?? null,
              job_title: p.enrichment.jobTitle ?? null,
              industry: p.enrichment.industry ?? null,
              web_presence: p.enrichment.webPresence ?? null,
            },
          ],
    ),
  );
  report.devices = await insert(
    'devices',
    file.people.flatMap((p) => (p.device === undefined ? [] : [{ person_id: p.id, ip: p.device.ip, user_agent: p.device.userAgent }])),
  );

  // A tenant knows a person through its orders and the relationships it tracks.
  const pairs = new Map<string, { tenantId: string; personId: string }>();
  const know = (tenantId: string, personId: string) => pairs.set(`${tenantId}\u0000${personId}`, { tenantId, personId });
  file.orders.forEach((o) => know(o.tenant, o.person));
  file.relationships.forEach((r) => {
    know(r.tenant, r.from);
    know(r.tenant, r.to);
  });
  const attendees = await ensureAttendees(db, [...pairs.values()], progress);
  report.attendees = attendees.inserted;
  const attendeeOf = (tenantId: string, personId: string) => {
    const id = attendees.idOf.get(`${tenantId}\u0000${personId}`);
    // Only an erased person's attendee has lost its person; their data is not imported again.
    if (id === undefined) throw new ImportRefusedError([{ section: '(file)', index: null, rowId: personId, field: null, message: 'person has no attendee row' }]);
    return id;
  };

  report.orders = await insert(
    'orders',
    file.orders.map((o) => ({
      tenant_id: o.tenant,
      id: o.id,
      event_id: o.event,
      attendee_id: attendeeOf(o.tenant, o.person),
      placed_at: o.placedAt,
      total_cents: o.totalCents,
      currency: o.currency,
      status: o.status,
      payment_ref: o.paymentRef ?? null,
    })),
  );
  report.tickets = await insert(
    'tickets',
    file.orders.flatMap((o) =>
      o.tickets.map((t) => ({ tenant_id: o.tenant, id: t.id, order_id: o.id, type: t.type, checked_in_at: t.checkedInAt ?? null })),
    ),
  );
  report.relationships = await insert(
    'relationships',
    file.relationships.map((r) => ({
      tenant_id: r.tenant,
      from_attendee_id: attendeeOf(r.tenant, r.from),
      to_attendee_id: attendeeOf(r.tenant, r.to),
      kind: r.kind,
    })),
  );
  report.usageEvents = await insert(
    'usage_events',
    file.usageEvents.map((u) => ({ person_id: u.person, at: u.at, page: u.page, feature: u.feature })),
  );
  report.supportCases = await insert(
    'support_cases',
    file.supportCases.map((c) => ({
      id: c.id,
      person_id: c.person,
      opened_at: c.openedAt,
      resolved_at: c.resolvedAt ?? null,
      subject: c.subject,
      body: c.body,
    })),
  );
  return report;
}
