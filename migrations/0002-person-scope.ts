import { sql, type Kysely } from 'kysely';

/*
 * The data subject's own scope: a person (token role data_subject, purpose self-service) reads
 * their own rows and nothing else. Read-only, like the platform scope; keyed on app.person_id,
 * set per transaction with set_config(..., true) like the tenant.
 */
const personCondition: Record<string, string> = {
  people: 'id = custodian_person()',
  consents: 'person_id = custodian_person()',
  enrichments: 'person_id = custodian_person()',
  devices: 'person_id = custodian_person()',
  usage_events: 'person_id = custodian_person()',
  support_cases: 'person_id = custodian_person()',
  attendees: 'person_id = custodian_person()',
  orders: `exists (select 1 from attendees a where a.tenant_id = orders.tenant_id and a.id = orders.attendee_id
    and a.person_id = custodian_person())`,
  tickets: `exists (select 1 from orders o join attendees a on a.tenant_id = o.tenant_id and a.id = o.attendee_id
    where o.tenant_id = tickets.tenant_id and o.id = tickets.order_id and a.person_id = custodian_person())`,
  events: `exists (select 1 from orders o join attendees a on a.tenant_id = o.tenant_id and a.id = o.attendee_id
    where o.tenant_id = events.tenant_id and o.event_id = events.id and a.person_id = custodian_person())`,
  relationships: `exists (select 1 from attendees a where a.tenant_id = relationships.tenant_id
    and a.id in (relationships.from_attendee_id, relationships.to_attendee_id) and a.person_id = custodian_person())`,
  tenants: `exists (select 1 from attendees a where a.tenant_id = tenants.id and a.person_id = custodian_person())`,
};

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create function custodian_person() returns text language sql stable
    as $$ select nullif(current_setting('app.person_id', true), '') $$`.execute(db);
  for (const [table, condition] of Object.entries(personCondition)) {
    await sql`create policy ${sql.id(`${table}_person_read`)} on ${sql.table(table)} for select
      using (custodian_scope() = 'person' and ${sql.raw(condition)})`.execute(db);
  }
}
