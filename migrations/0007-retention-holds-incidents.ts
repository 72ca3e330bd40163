import { sql, type Kysely } from 'kysely';

/*
 * Retention, legal holds and breach response (issue 12).
 *
 * - retention_runs: the record of every real retention run (when, the instant it applied, counts).
 * - access_log_cuts: where retention cut the access log (dropped whole partitions), with the
 *   signed checkpoint of the last dropped entry, so `audit:verify` still verifies what remains.
 * - legal_holds: a person kept by retention and by erasure while a hold is active.
 * - incidents / incident_people: a breach, its frozen scope from the access log, and who was
 *   notified when. revocations: tokens (jti) and actors (sub) refused from the next request.
 * - data_subject_requests gains the kind RETENTION (an erasure carried out by retention).
 *
 * RLS is forced on every table, like the others. custodian_app reads and writes them only on the
 * platform scope and for the purpose that owns them (legal-compliance, security-audit); the
 * revocation check every request makes goes through one SECURITY DEFINER function that answers a
 * boolean, so no caller can list the revocations without the security-audit purpose.
 */
const purposeIs = (...purposes: string[]) =>
  sql.raw(`custodian_scope() = 'platform' and current_setting('app.purpose', true) in (${purposes.map((p) => `'${p}'`).join(', ')})`);

export async function up(db: Kysely<unknown>): Promise<void> {
  const owner = (await sql<{ owner: string }>`select current_user as owner`.execute(db)).rows[0]!.owner;
  const maintenance = async (table: string) => {
    await sql`alter table ${sql.table(table)} enable row level security`.execute(db);
    await sql`alter table ${sql.table(table)} force row level security`.execute(db);
    await sql`create policy ${sql.id(`${table}_owner_maintenance`)} on ${sql.table(table)} to ${sql.id(owner)}
      using (custodian_scope() = 'maintenance') with check (custodian_scope() = 'maintenance')`.execute(db);
  };

  await sql`alter table data_subject_requests drop constraint data_subject_requests_kind_check`.execute(db);
  await sql`alter table data_subject_requests add constraint data_subject_requests_kind_check
    check (kind in ('ACCESS', 'RECTIFICATION', 'ERASURE', 'RESTRICTION', 'OBJECTION', 'CONSENT', 'RETENTION'))`.execute(db);
  // A person is erased once, by a request or by retention.
  await sql`create unique index data_subject_requests_one_retention on data_subject_requests (person_id) where kind = 'RETENTION'`.execute(db);

  await sql`create table retention_runs (
    id uuid primary key default gen_random_uuid(),
    at timestamptz not null default now(),
    applied_at timestamptz not null,
    runner text not null,
    counts jsonb not null
  )`.execute(db);
  await sql`create index retention_runs_by_at on retention_runs (at, id)`.execute(db);
  await maintenance('retention_runs');
  await sql`create policy retention_runs_review on retention_runs for select using (${purposeIs('legal-compliance')})`.execute(db);

  await sql`create table access_log_cuts (
    seq bigint primary key,
    hash text not null,
    at timestamptz not null default now(),
    partitions text[] not null,
    checkpoint text not null
  )`.execute(db);
  await maintenance('access_log_cuts');

  await sql`create table legal_holds (
    id uuid primary key default gen_random_uuid(),
    person_id text not null,
    reason text not null check (length(reason) between 1 and 1000),
    placed_by text not null,
    placed_at timestamptz not null default now(),
    until timestamptz,
    lifted_by text,
    lifted_at timestamptz
  )`.execute(db);
  // One active hold per person; lifted ones stay as the record.
  await sql`create unique index legal_holds_one_active on legal_holds (person_id) where lifted_at is null`.execute(db);
  await maintenance('legal_holds');
  await sql`create policy legal_holds_officer on legal_holds using (${purposeIs('legal-compliance')})
    with check (${purposeIs('legal-compliance')})`.execute(db);

  // Whether a person is held, for any scope: a data subject's own erasure request must wait too,
  // and learns that it waits, never the hold's reason.
  await sql`create function custodian_person_held(person text) returns boolean
    language sql stable security definer set search_path = public, pg_temp set app.scope = 'maintenance' as $$
      select exists (select 1 from legal_holds where person_id = person and lifted_at is null and (until is null or until > now()))
    $$`.execute(db);
  await sql`revoke all on function custodian_person_held(text) from public`.execute(db);
  await sql`grant execute on function custodian_person_held(text) to custodian_app`.execute(db);

  await sql`create table incidents (
    id uuid primary key default gen_random_uuid(),
    opened_at timestamptz not null default now(),
    opened_by text not null,
    notify_by timestamptz not null,
    token_id text,
    actor text,
    tenant_id text,
    window_from timestamptz not null,
    window_to timestamptz not null,
    nature text not null,
    consequences text not null,
    measures text not null,
    contact text not null,
    entries integer not null,
    check (token_id is not null or actor is not null or tenant_id is not null),
    check (window_from < window_to)
  )`.execute(db);
  await sql`create index incidents_by_notify_by on incidents (notify_by)`.execute(db);
  await sql`create table incident_people (
    incident_id uuid not null references incidents (id),
    person_id text not null,
    residency text not null,
    categories text[] not null,
    reads integer not null,
    notified_at timestamptz,
    notified_by text,
    primary key (incident_id, person_id)
  )`.execute(db);
  await sql`create index incident_people_unnotified on incident_people (incident_id) where notified_at is null`.execute(db);
  for (const table of ['incidents', 'incident_people']) {
    await maintenance(table);
    await sql`create policy ${sql.id(`${table}_review`)} on ${sql.table(table)} for select
      using (${purposeIs('security-audit', 'legal-compliance')})`.execute(db);
  }
  await sql`create policy incidents_open on incidents for insert with check (${purposeIs('security-audit')})`.execute(db);
  await sql`create policy incident_people_open on incident_people for insert with check (${purposeIs('security-audit')})`.execute(db);
  await sql`create policy incident_people_notified on incident_people for update
    using (${purposeIs('legal-compliance')}) with check (${purposeIs('legal-compliance')})`.execute(db);

  await sql`create table revocations (
    id uuid primary key default gen_random_uuid(),
    token_id text,
    actor text,
    reason text not null,
    revoked_by text not null,
    at timestamptz not null default now(),
    incident_id uuid references incidents (id),
    check (token_id is not null or actor is not null)
  )`.execute(db);
  await sql`create index revocations_by_token on revocations (token_id) where token_id is not null`.execute(db);
  await sql`create index revocations_by_actor on revocations (actor) where actor is not null`.execute(db);
  await maintenance('revocations');
  await sql`create policy revocations_review on revocations for select using (${purposeIs('security-audit')})`.execute(db);
  await sql`create policy revocations_revoke on revocations for insert with check (${purposeIs('security-audit')})`.execute(db);

  // The per-request check: two index probes, a boolean out, whatever the caller's scope. It runs
  // as the owner under the maintenance scope (RLS is forced on the owner too), for its own call only.
  await sql`create function custodian_token_revoked(jti text, sub text) returns boolean
    language sql stable security definer set search_path = public, pg_temp set app.scope = 'maintenance' as $$
      select exists (select 1 from revocations where token_id = jti and jti is not null)
          or exists (select 1 from revocations where actor = sub)
    $$`.execute(db);
  await sql`revoke all on function custodian_token_revoked(text, text) from public`.execute(db);
  await sql`grant execute on function custodian_token_revoked(text, text) to custodian_app`.execute(db);

  await sql`grant select on retention_runs to custodian_app`.execute(db);
  await sql`grant select, insert on legal_holds to custodian_app`.execute(db);
  await sql`grant update (lifted_by, lifted_at) on legal_holds to custodian_app`.execute(db);
  await sql`grant select, insert on incidents, incident_people, revocations to custodian_app`.execute(db);
  await sql`grant update (notified_at, notified_by) on incident_people to custodian_app`.execute(db);
}
