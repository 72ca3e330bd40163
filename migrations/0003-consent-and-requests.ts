import { sql, type Kysely } from 'kysely';

/*
 * Data-subject requests and the writes they need.
 *
 * - data_subject_requests is the minimal legal record of each request: who asked, when, what
 *   kind, its due date, when it was done, and which flags changed (never values). person_id is
 *   not a foreign key: the record outlives an erased person, and is what stops a later import
 *   from bringing them back.
 * - Writes are granted narrowly to custodian_app and, under RLS, allowed only in a transaction
 *   that declared a data-subject purpose (app.purpose legal-compliance for any person on the
 *   platform scope, self-service for the person's own rows): a bug elsewhere cannot write.
 */
const WRITE_PURPOSES = `current_setting('app.purpose', true) in ('legal-compliance', 'self-service')`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table data_subject_requests (
    id uuid primary key default gen_random_uuid(),
    person_id text not null,
    kind text not null check (kind in ('ACCESS', 'RECTIFICATION', 'ERASURE', 'RESTRICTION', 'OBJECTION', 'CONSENT')),
    requested_by text not null,
    requested_by_role text not null,
    requested_at timestamptz not null default now(),
    due_at timestamptz not null,
    completed_at timestamptz,
    details jsonb not null default '{}'
  )`.execute(db);
  await sql`create index data_subject_requests_by_person on data_subject_requests (person_id, requested_at)`.execute(db);
  await sql`create index data_subject_requests_open on data_subject_requests (due_at) where completed_at is null`.execute(db);
  await sql`create unique index data_subject_requests_one_erasure on data_subject_requests (person_id) where kind = 'ERASURE'`.execute(db);

  await sql`alter table data_subject_requests enable row level security`.execute(db);
  await sql`alter table data_subject_requests force row level security`.execute(db);
  const owner = (await sql<{ owner: string }>`select current_user as owner`.execute(db)).rows[0]!.owner;
  await sql`create policy data_subject_requests_platform on data_subject_requests
    using (custodian_scope() = 'platform' and ${sql.raw(WRITE_PURPOSES)})
    with check (custodian_scope() = 'platform' and ${sql.raw(WRITE_PURPOSES)})`.execute(db);
  await sql`create policy data_subject_requests_person on data_subject_requests
    using (custodian_scope() = 'person' and person_id = custodian_person())
    with check (custodian_scope() = 'person' and person_id = custodian_person() and ${sql.raw(WRITE_PURPOSES)})`.execute(db);
  await sql`create policy data_subject_requests_owner_maintenance on data_subject_requests to ${sql.id(owner)}
    using (custodian_scope() = 'maintenance') with check (custodian_scope() = 'maintenance')`.execute(db);

  // Correction, consent, restriction, objection: updates of the person's own rows.
  const personKey: Record<string, string> = { people: 'id', consents: 'person_id' };
  for (const [table, key] of Object.entries(personKey)) {
    await sql`create policy ${sql.id(`${table}_request_update`)} on ${sql.table(table)} for update
      using (${sql.raw(WRITE_PURPOSES)} and (custodian_scope() = 'platform'
        or (custodian_scope() = 'person' and ${sql.ref(key)} = custodian_person())))`.execute(db);
  }
  // Erasure: the person's rows leave the live tables.
  for (const [table, key] of Object.entries({ ...personKey, enrichments: 'person_id', devices: 'person_id', usage_events: 'person_id', support_cases: 'person_id' })) {
    await sql`create policy ${sql.id(`${table}_erasure`)} on ${sql.table(table)} for delete
      using (${sql.raw(WRITE_PURPOSES)} and (custodian_scope() = 'platform'
        or (custodian_scope() = 'person' and ${sql.ref(key)} = custodian_person())))`.execute(db);
  }
  // Erasure pseudonymises attendees (orders stay 7 years, pointing at nobody) and removes the
  // person's relationships. The attendee's new row no longer matches the person, so the check
  // is on the purpose alone.
  await sql`create policy attendees_erasure on attendees for update
    using (${sql.raw(WRITE_PURPOSES)} and (custodian_scope() = 'platform'
      or (custodian_scope() = 'person' and person_id = custodian_person())))
    with check (${sql.raw(WRITE_PURPOSES)} and person_id is null)`.execute(db);
  await sql`create policy relationships_erasure on relationships for delete
    using (${sql.raw(WRITE_PURPOSES)} and (custodian_scope() = 'platform' or (custodian_scope() = 'person' and exists (
      select 1 from attendees a where a.tenant_id = relationships.tenant_id
        and a.id in (relationships.from_attendee_id, relationships.to_attendee_id) and a.person_id = custodian_person()))))`.execute(db);

  await sql`grant select, insert on data_subject_requests to custodian_app`.execute(db);
  await sql`grant update (completed_at, details) on data_subject_requests to custodian_app`.execute(db);
  await sql`grant update (name, email, phone, billing_line1, billing_city, billing_region, billing_postal_code,
    billing_country, age_range, residency) on people to custodian_app`.execute(db);
  await sql`grant update (marketing, enrichment, do_not_sell, restricted, objection, updated_at) on consents to custodian_app`.execute(db);
  await sql`grant update (person_id) on attendees to custodian_app`.execute(db);
  await sql`grant delete on people, consents, enrichments, devices, usage_events, support_cases, relationships to custodian_app`.execute(db);
}
