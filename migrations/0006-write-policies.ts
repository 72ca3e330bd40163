import { sql, type Kysely } from 'kysely';

/*
 * Writes only where a data-subject request needs them.
 *
 * - The tenant isolation policies of 0001 were FOR ALL: with a tenant scope set, the application
 *   role could update consents and people or delete relationships (its grants allow those for
 *   data-subject requests). Tenants now only read; every write goes through the request policies
 *   of 0003 and those below, which require a data-subject purpose (legal-compliance on the
 *   platform scope, self-service for the person's own rows).
 * - Erasure unlinks: each attendee row of the erased person is replaced by a fresh one that points
 *   at nobody, the person's orders move to it without their payment reference, and the old row
 *   (the id the tenant knew the person by) is deleted. Orders stay for their 7 years, unlinkable.
 */
const TENANT_TABLES: Record<string, string> = {
  events: 'tenant_id = custodian_tenant()',
  attendees: 'tenant_id = custodian_tenant()',
  orders: 'tenant_id = custodian_tenant()',
  tickets: 'tenant_id = custodian_tenant()',
  relationships: 'tenant_id = custodian_tenant()',
  tenants: 'id = custodian_tenant()',
};
const PERSON_TABLES = ['people', 'consents', 'enrichments', 'devices', 'usage_events', 'support_cases'];
const WRITE_PURPOSES = `current_setting('app.purpose', true) in ('legal-compliance', 'self-service')`;
const personVisibleToTenant = (column: string) =>
  `exists (select 1 from attendees a where a.tenant_id = custodian_tenant() and a.person_id = ${column})`;

export async function up(db: Kysely<unknown>): Promise<void> {
  const conditions: Record<string, string> = { ...TENANT_TABLES };
  for (const table of PERSON_TABLES) conditions[table] = personVisibleToTenant(`${table}.${table === 'people' ? 'id' : 'person_id'}`);
  for (const [table, condition] of Object.entries(conditions)) {
    await sql`drop policy ${sql.id(`${table}_tenant_isolation`)} on ${sql.table(table)}`.execute(db);
    await sql`create policy ${sql.id(`${table}_tenant_read`)} on ${sql.table(table)} for select
      using (custodian_scope() = 'tenant' and ${sql.raw(condition)})`.execute(db);
  }

  // Erasure's re-keying, on the platform scope only (erasePerson switches to it for its writes).
  const erasing = `${WRITE_PURPOSES} and custodian_scope() = 'platform'`;
  await sql`create policy attendees_erasure_rekey on attendees for insert
    with check (${sql.raw(erasing)} and person_id is null)`.execute(db);
  await sql`create policy attendees_erasure_delete on attendees for delete
    using (${sql.raw(erasing)} and person_id is not null)`.execute(db);
  await sql`create policy orders_erasure on orders for update
    using (${sql.raw(erasing)})
    with check (${sql.raw(erasing)} and payment_ref is null and exists (select 1 from attendees a
      where a.tenant_id = orders.tenant_id and a.id = orders.attendee_id and a.person_id is null))`.execute(db);
  // The update that pointed an attendee row at nobody (0003) is replaced by the re-keying above.
  await sql`drop policy attendees_erasure on attendees`.execute(db);
  await sql`revoke update (person_id) on attendees from custodian_app`.execute(db);
  await sql`grant insert (tenant_id, id, person_id) on attendees to custodian_app`.execute(db);
  await sql`grant delete on attendees to custodian_app`.execute(db);
  await sql`grant update (attendee_id, payment_ref) on orders to custodian_app`.execute(db);
}
