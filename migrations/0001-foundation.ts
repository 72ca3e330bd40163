import { sql, type Kysely } from 'kysely';

/*
 * The whole data model of the import format (the access log has its own migration), with tenant isolation enforced by the database itself.
 *
 * - Every tenant-owned table leads its primary key and foreign keys with tenant_id, so the schema
 *   can be distributed by tenant (Citus) and a foreign key can never cross tenants.
 * - People and what hangs off them (consent, enrichment, devices, usage, support) are the
 *   platform's data subjects, shared across tenants; a tenant reaches a person only through its
 *   own attendee row, whose id is opaque and per tenant.
 * - Row-level security is enabled and FORCED everywhere, keyed on transaction-local settings
 *   (app.scope, app.tenant_id) that the gateway sets with set_config(..., true) per request.
 *   With nothing set, every table reads as empty.
 */
const SCHEMA: readonly string[] = [
  `
    create function custodian_scope() returns text language sql stable
      as $$ select coalesce(nullif(current_setting('app.scope', true), ''), 'none') $$
  `,
  `
    create function custodian_tenant() returns text language sql stable
      as $$ select nullif(current_setting('app.tenant_id', true), '') $$
  `,
  `
    create table tenants (
      id text primary key check (id ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
      name text not null,
      created_at timestamptz not null default now()
    )
  `,
  `
    create table events (
      tenant_id text not null references tenants (id),
      id text not null,
      name text not null,
      venue text,
      starts_at timestamptz not null,
      primary key (tenant_id, id)
    )
  `,
  `
    create index events_by_start on events (tenant_id, starts_at, id)
  `,
  `
    create table people (
      id text primary key,
      name text,
      email text,
      phone text,
      billing_line1 text,
      billing_city text,
      billing_region text,
      billing_postal_code text,
      billing_country text,
      age_range text check (age_range in ('13-17', '18-24', '25-34', '35-44', '45-54', '55-64', '65+')),
      residency text not null,
      created_at timestamptz not null,
      last_active_at timestamptz
    )
  `,
  `
    create table consents (
      person_id text primary key references people (id),
      marketing boolean not null,
      enrichment boolean not null,
      do_not_sell boolean not null,
      restricted boolean not null,
      objection boolean not null,
      updated_at timestamptz not null default now()
    )
  `,
  `
    create table enrichments (
      person_id text primary key references people (id),
      source text not null,
      company text,
      job_title text,
      industry text,
      web_presence text
    )
  `,
  `
    create table devices (
      person_id text not null references people (id),
      ip inet not null,
      user_agent text not null,
      primary key (person_id, ip, user_agent)
    )
  `,
  `
    create table attendees (
      tenant_id text not null references tenants (id),
      id uuid not null default gen_random_uuid(),
      person_id text references people (id),
      created_at timestamptz not null default now(),
      primary key (tenant_id, id),
      unique (tenant_id, person_id)
    )
  `,
  `
    create index attendees_by_person on attendees (person_id, tenant_id)
  `,
  `
    create table orders (
      tenant_id text not null,
      id text not null,
      event_id text not null,
      attendee_id uuid not null,
      placed_at timestamptz not null,
      total_cents integer not null check (total_cents >= 0),
      currency text not null check (currency ~ '^[A-Z]{3}$'),
      status text not null,
      payment_ref text,
      primary key (tenant_id, id),
      foreign key (tenant_id, event_id) references events (tenant_id, id),
      foreign key (tenant_id, attendee_id) references attendees (tenant_id, id)
    )
  `,
  `
    -- Dashboard paths: the attendees of an event, the orders of an attendee.
    create index orders_by_event on orders (tenant_id, event_id, attendee_id)
  `,
  `
    create index orders_by_attendee on orders (tenant_id, attendee_id, placed_at)
  `,
  `
    create table tickets (
      tenant_id text not null,
      id text not null,
      order_id text not null,
      type text not null,
      checked_in_at timestamptz,
      primary key (tenant_id, id),
      foreign key (tenant_id, order_id) references orders (tenant_id, id)
    )
  `,
  `
    create index tickets_by_order on tickets (tenant_id, order_id)
  `,
  `
    create table relationships (
      tenant_id text not null,
      from_attendee_id uuid not null,
      to_attendee_id uuid not null,
      kind text not null,
      primary key (tenant_id, from_attendee_id, to_attendee_id, kind),
      foreign key (tenant_id, from_attendee_id) references attendees (tenant_id, id),
      foreign key (tenant_id, to_attendee_id) references attendees (tenant_id, id)
    )
  `,
  `
    create index relationships_to on relationships (tenant_id, to_attendee_id)
  `,
  `
    create table usage_events (
      person_id text not null references people (id),
      at timestamptz not null,
      page text not null,
      feature text not null,
      primary key (person_id, at, page, feature)
    )
  `,
  `
    create table support_cases (
      id text primary key,
      person_id text not null references people (id),
      opened_at timestamptz not null,
      resolved_at timestamptz,
      subject text not null,
      body text not null
    )
  `,
  `
    create index support_cases_by_person on support_cases (person_id)
  `,
];

const GRANTS: readonly string[] = [
  `grant usage on schema public to custodian_app`,
  `grant select on tenants, events, people, consents, enrichments, devices, attendees, orders, tickets, relationships, usage_events, support_cases to custodian_app`,
  `grant select on custodian_migrations to custodian_app`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    do $$ begin
      create role custodian_app nologin;
    exception when duplicate_object or unique_violation then null;
    end $$;
  `.execute(db);

  for (const statement of SCHEMA) await sql.raw(statement).execute(db);

  // Tenant tables: a tenant sees its own rows; platform roles may read across tenants (their
  // purpose and fields are decided by the gateway's policy before anything is read).
  for (const table of ['events', 'attendees', 'orders', 'tickets', 'relationships']) {
    await isolate(db, table, sql`tenant_id = custodian_tenant()`);
  }
  await isolate(db, 'tenants', sql`id = custodian_tenant()`);

  // Person tables: a tenant sees a person only while it holds an attendee row for them.
  const personVisibleToTenant = (column: string) => sql`exists (
    select 1 from attendees a
    where a.tenant_id = custodian_tenant() and a.person_id = ${sql.ref(column)}
  )`;
  await isolate(db, 'people', personVisibleToTenant('people.id'));
  for (const table of ['consents', 'enrichments', 'devices', 'usage_events', 'support_cases']) {
    await isolate(db, table, personVisibleToTenant(`${table}.person_id`));
  }

  for (const statement of GRANTS) await sql.raw(statement).execute(db);
}

/**
 * Enables and forces RLS on a table. `tenantCondition` applies under the tenant scope. The owner
 * gets a maintenance policy so imports work under FORCE, but only for itself (`to` the migrating
 * role) and only when it declares the maintenance scope: the application role can never use it.
 */
async function isolate(db: Kysely<unknown>, table: string, tenantCondition: ReturnType<typeof sql>) {
  const t = sql.table(table);
  await sql`alter table ${t} enable row level security`.execute(db);
  await sql`alter table ${t} force row level security`.execute(db);
  await sql`create policy ${sql.id(`${table}_tenant_isolation`)} on ${t}
    using (custodian_scope() = 'tenant' and ${tenantCondition})
    with check (custodian_scope() = 'tenant' and ${tenantCondition})`.execute(db);
  await sql`create policy ${sql.id(`${table}_platform_read`)} on ${t} for select
    using (custodian_scope() = 'platform')`.execute(db);
  const owner = await sql<{ owner: string }>`select current_user as owner`.execute(db);
  await sql`create policy ${sql.id(`${table}_owner_maintenance`)} on ${t}
    to ${sql.id(owner.rows[0]!.owner)}
    using (custodian_scope() = 'maintenance')
    with check (custodian_scope() = 'maintenance')`.execute(db);
}
