import { SECTIONS, UNDER_13, type ImportFile, type Section } from './import-format.js';

/** One refused row: where it is, which field, and why. Values are never quoted: they may be personal. */
export interface ImportProblem {
  section: Section | '(file)';
  index: number | null;
  rowId: string | null;
  field: string | null;
  message: string;
}

export function describeProblem(problem: ImportProblem): string {
  const row = problem.index === null ? problem.section : `${problem.section}[${problem.index}]`;
  const id = problem.rowId === null ? '' : ` (id "${problem.rowId}")`;
  const field = problem.field === null ? '' : `, field ${problem.field}`;
  return `${row}${id}${field}: ${problem.message}`;
}

export class ImportRefusedError extends Error {
  readonly code = 'IMPORT_REFUSED';
  constructor(readonly problems: readonly ImportProblem[]) {
    super(
      `The import was refused and nothing was written (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  - ${describeProblem(p)}`).join('\n'),
    );
  }
}

function rowIdOf(row: unknown): string | null {
  const id = (row as { id?: unknown } | null)?.id;
  return typeof id === 'string' && id.length <= 200 ? id : null;
}

/**
 * Checks the shape of every row of every section and collects every problem. The typed file holds
 * the rows that passed, at their own indexes, so later checks can still name rows by position.
 */
export function validateShape(input: unknown): { file: ImportFile; problems: ImportProblem[] } {
  const problems: ImportProblem[] = [];
  const file: Record<string, unknown[]> = Object.fromEntries(Object.keys(SECTIONS).map((section) => [section, []]));
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    problems.push({ section: '(file)', index: null, rowId: null, field: null, message: 'must be a JSON object' });
    return { file: file as unknown as ImportFile, problems };
  }
  const record = input as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!(key in SECTIONS)) {
      problems.push({ section: '(file)', index: null, rowId: null, field: key, message: 'is not a section of the import format' });
    }
  }
  for (const [section, schema] of Object.entries(SECTIONS) as [Section, (typeof SECTIONS)[Section]][]) {
    const rows = record[section] ?? [];
    if (!Array.isArray(rows)) {
      problems.push({ section, index: null, rowId: null, field: null, message: 'must be an array' });
      continue;
    }
    rows.forEach((row, index) => {
      const rowId = rowIdOf(row);
      if (section === 'people' && (row as { ageRange?: unknown })?.ageRange === UNDER_13) {
        problems.push({
          section,
          index,
          rowId,
          field: 'ageRange',
          message: 'people under 13 are never stored (Janix notice §9); remove this person from the file',
        });
        return;
      }
      const parsed = schema.safeParse(row);
      if (parsed.success) {
        // At its own index (holes elsewhere, which forEach skips), so later checks name rows by their place in the file.
        file[section]![index] = parsed.data;
        return;
      }
      for (const issue of parsed.error.issues) {
        const field = issue.path.length === 0 ? null : issue.path.map(String).join('.');
        const message = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
        problems.push({ section, index, rowId, field, message });
      }
    });
  }
  return { file: file as unknown as ImportFile, problems };
}

/** What the file refers to that it does not itself define; the database must hold these. */
export interface ExternalReferences {
  tenants: Set<string>;
  events: Set<string>; // `${tenant}\u0000${event}`
  people: Set<string>;
}

/**
 * Cross-row checks within the file: duplicate ids, and references to tenants, events and people.
 * References the file does not satisfy are returned so the caller can look for them in the database.
 */
export function checkReferences(file: ImportFile): { problems: ImportProblem[]; external: ExternalReferences } {
  const problems: ImportProblem[] = [];
  const external: ExternalReferences = { tenants: new Set(), events: new Set(), people: new Set() };
  const duplicate = (section: Section, index: number, rowId: string | null, field: string, what: string) =>
    problems.push({ section, index, rowId, field, message: `duplicates ${what} defined earlier in the file` });

  const tenants = new Set<string>();
  file.tenants.forEach((t, i) => (tenants.has(t.id) ? duplicate('tenants', i, t.id, 'id', 'a tenant id') : tenants.add(t.id)));
  const needTenant = (tenant: string) => {
    if (!tenants.has(tenant)) external.tenants.add(tenant);
  };

  const events = new Map<string, string>();
  file.events.forEach((e, i) => {
    if (events.has(e.id)) duplicate('events', i, e.id, 'id', 'an event id');
    else events.set(e.id, e.tenant);
    needTenant(e.tenant);
  });

  const people = new Set<string>();
  file.people.forEach((p, i) => (people.has(p.id) ? duplicate('people', i, p.id, 'id', 'a person id') : people.add(p.id)));
  const needPerson = (person: string) => {
    if (!people.has(person)) external.people.add(person);
  };

  const orders = new Set<string>();
  const tickets = new Set<string>();
  file.orders.forEach((o, i) => {
    const key = `${o.tenant}\u0000${o.id}`;
    if (orders.has(key)) duplicate('orders', i, o.id, 'id', 'an order id');
    orders.add(key);
    needTenant(o.tenant);
    needPerson(o.person);
    const eventTenant = events.get(o.event);
    if (eventTenant === undefined) external.events.add(`${o.tenant}\u0000${o.event}`);
    else if (eventTenant !== o.tenant) {
      problems.push({ section: 'orders', index: i, rowId: o.id, field: 'event', message: "names an event of another tenant" });
    }
    o.tickets.forEach((t, j) => {
      const ticketKey = `${o.tenant}\u0000${t.id}`;
      if (tickets.has(ticketKey)) duplicate('orders', i, o.id, `tickets.${j}.id`, 'a ticket id');
      tickets.add(ticketKey);
    });
  });

  file.relationships.forEach((r, i) => {
    needTenant(r.tenant);
    needPerson(r.from);
    needPerson(r.to);
    if (r.from === r.to) {
      problems.push({ section: 'relationships', index: i, rowId: null, field: 'to', message: 'a person cannot be related to themselves' });
    }
  });
  file.usageEvents.forEach((u) => needPerson(u.person));
  const cases = new Set<string>();
  file.supportCases.forEach((c, i) => {
    if (cases.has(c.id)) duplicate('supportCases', i, c.id, 'id', 'a support case id');
    cases.add(c.id);
    needPerson(c.person);
  });
  return { problems, external };
}

/** Names every row whose reference the database could not satisfy either. */
export function unresolvedReferenceProblems(file: ImportFile, missing: ExternalReferences): ImportProblem[] {
  const problems: ImportProblem[] = [];
  const unknown = (section: Section, index: number, rowId: string | null, field: string, what: string) =>
    problems.push({ section, index, rowId, field, message: `names ${what} that is neither in the file nor in the database` });
  file.events.forEach((e, i) => missing.tenants.has(e.tenant) && unknown('events', i, e.id, 'tenant', 'a tenant'));
  file.orders.forEach((o, i) => {
    if (missing.tenants.has(o.tenant)) unknown('orders', i, o.id, 'tenant', 'a tenant');
    if (missing.events.has(`${o.tenant}\u0000${o.event}`)) unknown('orders', i, o.id, 'event', "an event of the order's tenant");
    if (missing.people.has(o.person)) unknown('orders', i, o.id, 'person', 'a person');
  });
  file.relationships.forEach((r, i) => {
    if (missing.tenants.has(r.tenant)) unknown('relationships', i, null, 'tenant', 'a tenant');
    if (missing.people.has(r.from)) unknown('relationships', i, null, 'from', 'a person');
    if (missing.people.has(r.to)) unknown('relationships', i, null, 'to', 'a person');
  });
  file.usageEvents.forEach((u, i) => missing.people.has(u.person) && unknown('usageEvents', i, null, 'person', 'a person'));
  file.supportCases.forEach((c, i) => missing.people.has(c.person) && unknown('supportCases', i, c.id, 'person', 'a person'));
  return problems;
}
