import { sql, type Kysely } from 'kysely';

/*
 * The access log: one entry per request that touched personal data (or was refused), written in
 * the request's own transaction.
 *
 * - Tamper evidence: each entry carries content_hash (SHA-256 of its canonical content, computed
 *   by the gateway) and hash = SHA-256(prev_hash || seq || content_hash). A BEFORE INSERT trigger
 *   assigns seq and prev_hash from a one-row head under a row lock, so concurrent writers form
 *   one linear chain. Triggers refuse UPDATE, DELETE and TRUNCATE for everyone, the owner too;
 *   only disabling them (which needs the owner) or a superuser can rewrite, and `audit:verify`
 *   then names the first bad entry, against a signed checkpoint if the rewrite is thorough.
 * - Partitioned by month, so 7-year retention drops whole partitions; `npm run migrate` keeps
 *   partitions a year ahead and a default partition takes anything else.
 * - custodian_app may only INSERT (and, under RLS, read for review purposes).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table access_log (
    seq bigint not null,
    at timestamptz not null,
    actor text not null,
    role text not null,
    tenant_id text,
    purpose text not null,
    operation_name text,
    request_id text not null,
    token_id text,
    client_address text,
    subjects text[] not null,
    fields text[] not null,
    masked text[] not null,
    exposure jsonb not null,
    outcome text not null check (outcome in ('ALLOWED', 'DENIED', 'ERROR')),
    error_code text,
    content_hash text not null check (content_hash ~ '^[0-9a-f]{64}$'),
    prev_hash text not null,
    hash text not null,
    primary key (at, seq)
  ) partition by range (at)`.execute(db);
  await sql`create index access_log_by_seq on access_log (seq)`.execute(db);
  await sql`create index access_log_by_subject on access_log using gin (subjects)`.execute(db);

  // A person's history, newest first, as an index the planner may use under RLS: text equality is
  // leakproof where array containment is not, so a person's entries are found through this btree
  // even behind the review policies. Filled by the chain trigger, append-only like the log.
  await sql`create table access_log_subjects (
    person_id text not null,
    at timestamptz not null,
    seq bigint not null,
    primary key (person_id, at, seq)
  ) partition by range (at)`.execute(db);
  await sql`create index access_log_by_actor on access_log (actor, at)`.execute(db);
  await sql`create index access_log_by_token on access_log (token_id, at) where token_id is not null`.execute(db);
  await sql`create index access_log_by_tenant on access_log (tenant_id, at)`.execute(db);

  await sql`create table access_log_head (
    only_row boolean primary key default true check (only_row),
    seq bigint not null,
    hash text not null
  )`.execute(db);
  await sql`insert into access_log_head (seq, hash) values (0, ${'0'.repeat(64)})`.execute(db);

  await sql`create function custodian_access_log_chain() returns trigger language plpgsql
    security definer set search_path = public, pg_temp as $$
    declare head record;
    begin
      select seq, hash into head from access_log_head where only_row for update;
      new.seq := head.seq + 1;
      new.prev_hash := head.hash;
      new.hash := encode(sha256(convert_to(head.hash || ':' || new.seq::text || ':' || new.content_hash, 'UTF8')), 'hex');
      update access_log_head set seq = new.seq, hash = new.hash where only_row;
      insert into access_log_subjects (person_id, at, seq) select distinct unnest(new.subjects), new.at, new.seq;
      return new;
    end $$`.execute(db);
  await sql`create function custodian_access_log_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'access_log is append-only: % is refused', tg_op using errcode = 'insufficient_privilege';
    end $$`.execute(db);
  await sql`create trigger access_log_chain before insert on access_log
    for each row execute function custodian_access_log_chain()`.execute(db);
  await sql`create trigger access_log_append_only before update or delete on access_log
    for each row execute function custodian_access_log_append_only()`.execute(db);
  await sql`create trigger access_log_head_append_only before delete or truncate on access_log_head
    for each statement execute function custodian_access_log_append_only()`.execute(db);
  await sql`create trigger access_log_subjects_append_only before update or delete on access_log_subjects
    for each row execute function custodian_access_log_append_only()`.execute(db);

  // Monthly partitions, each with its own TRUNCATE guard (statement triggers are not inherited).
  await sql`create function custodian_access_log_partition(month date) returns void language plpgsql as $$
    declare
      suffix text := to_char(month, 'YYYY_MM');
      parent text;
    begin
      foreach parent in array array['access_log', 'access_log_subjects'] loop
        execute format('create table if not exists %I partition of %I for values from (%L) to (%L)',
          parent || '_' || suffix, parent, month, (month + interval '1 month')::date);
        execute format('drop trigger if exists access_log_no_truncate on %I', parent || '_' || suffix);
        execute format('create trigger access_log_no_truncate before truncate on %I
          for each statement execute function custodian_access_log_append_only()', parent || '_' || suffix);
      end loop;
    end $$`.execute(db);
  // This month and the next two; `npm run migrate` keeps a year ahead (ensureAccessLogPartitions).
  await sql`select custodian_access_log_partition(m::date)
    from generate_series(date_trunc('month', now()), date_trunc('month', now()) + interval '2 months', interval '1 month') as m`.execute(db);
  for (const parent of ['access_log', 'access_log_subjects']) {
    await sql`create table ${sql.table(`${parent}_default`)} partition of ${sql.table(parent)} default`.execute(db);
    for (const table of [`${parent}_default`, parent]) {
      await sql`create trigger access_log_no_truncate before truncate on ${sql.table(table)}
        for each statement execute function custodian_access_log_append_only()`.execute(db);
    }
  }

  // Review reads: security staff and privacy officers on the platform scope, a person their own history.
  await sql`alter table access_log enable row level security`.execute(db);
  await sql`alter table access_log force row level security`.execute(db);
  // Every request appends, refused ones too, whatever its scope: inserting is always allowed.
  await sql`create policy access_log_append on access_log for insert with check (true)`.execute(db);
  await sql`create policy access_log_review on access_log for select using (custodian_scope() = 'platform'
    and current_setting('app.purpose', true) in ('security-audit', 'legal-compliance'))`.execute(db);
  await sql`create policy access_log_own_history on access_log for select using (custodian_scope() = 'person'
    and subjects @> array[custodian_person()])`.execute(db);
  const owner = (await sql<{ owner: string }>`select current_user as owner`.execute(db)).rows[0]!.owner;
  await sql`create policy access_log_owner_maintenance on access_log to ${sql.id(owner)}
    using (custodian_scope() = 'maintenance') with check (custodian_scope() = 'maintenance')`.execute(db);

  await sql`alter table access_log_subjects enable row level security`.execute(db);
  await sql`alter table access_log_subjects force row level security`.execute(db);
  await sql`create policy access_log_subjects_review on access_log_subjects for select using (custodian_scope() = 'platform'
    and current_setting('app.purpose', true) in ('security-audit', 'legal-compliance'))`.execute(db);
  await sql`create policy access_log_subjects_own_history on access_log_subjects for select using (custodian_scope() = 'person'
    and person_id = custodian_person())`.execute(db);
  await sql`create policy access_log_subjects_owner_maintenance on access_log_subjects to ${sql.id(owner)}
    using (custodian_scope() = 'maintenance') with check (custodian_scope() = 'maintenance')`.execute(db);

  await sql`grant insert, select on access_log to custodian_app`.execute(db);
  await sql`grant select on access_log_subjects to custodian_app`.execute(db);
}
