import { sql, type Kysely } from 'kysely';

/*
 * One chokepoint for person-linked reads, in the database, the way row-level security is one for
 * tenants.
 *
 * - The application role no longer reads the person tables (people, consents, enrichments,
 *   devices, usage, support cases, orders, tickets, relationships). It keeps SELECT on the key
 *   columns only (ids and links, which its writes and the RLS conditions need), and reads every
 *   personal value through the views of the `masked` schema.
 * - Each view masks by the transaction's purpose (`app.purpose`, set with set_config(..., true)
 *   per request) and the person's state (consent, opt-outs, restriction, objection, erasure):
 *   a value the purpose may not read per person is null; `partial` and `hash` are applied here;
 *   a value a person's state masks is null, with the reason in `mask_reasons`. Rows a state hides
 *   (the orders of a restricted person, the devices of someone the purpose may not read about) are
 *   not there at all. With no purpose set, or one the policy does not declare, every view is empty.
 * - What each purpose reads is the policy (schema/policy.yaml), written into `access_policy` by
 *   `npm run migrate` as the owner (src/db/access-policy.ts); the gateway refuses to start when the
 *   database holds a different policy than the one it loaded.
 * - The views belong to custodian_reader, a NOLOGIN role that only reads. Row-level security applies
 *   to it as to any non-owner (the owner's maintenance policies name the owner only), so tenant and
 *   person scopes still decide which rows exist; nobody can SET ROLE to it but its members.
 *
 * Forward-only: a later change to a view is a new migration that replaces it.
 */

/** A personal value column: where it comes from, its category, and the maskable field it belongs to. */
interface ValueColumn {
  name: string;
  source: string;
  category: string;
  field: string | null;
  kind: 'email' | 'phone' | 'text' | 'value';
}

const PERSON_COLUMNS: readonly ValueColumn[] = [
  { name: 'name', source: 'p.name', category: 'user.name', field: 'name', kind: 'text' },
  { name: 'email', source: 'p.email', category: 'user.contact.email', field: 'email', kind: 'email' },
  { name: 'phone', source: 'p.phone', category: 'user.contact.phone', field: 'phone', kind: 'phone' },
  { name: 'billing_line1', source: 'p.billing_line1', category: 'user.contact.address', field: 'billingAddress', kind: 'text' },
  { name: 'billing_city', source: 'p.billing_city', category: 'user.contact.address', field: 'billingAddress', kind: 'text' },
  { name: 'billing_region', source: 'p.billing_region', category: 'user.contact.address', field: 'billingAddress', kind: 'text' },
  { name: 'billing_postal_code', source: 'p.billing_postal_code', category: 'user.contact.address', field: 'billingAddress', kind: 'text' },
  { name: 'billing_country', source: 'p.billing_country', category: 'user.contact.address', field: 'billingAddress', kind: 'text' },
  { name: 'age_range', source: 'p.age_range', category: 'user.demographic', field: 'ageRange', kind: 'text' },
  { name: 'residency', source: 'p.residency', category: 'user.location.imprecise', field: 'residency', kind: 'text' },
  { name: 'created_at', source: 'p.created_at', category: 'user.account', field: null, kind: 'value' },
  { name: 'last_active_at', source: 'p.last_active_at', category: 'user.account', field: null, kind: 'value' },
  { name: 'company', source: 'en.company', category: 'user.professional', field: 'company', kind: 'text' },
  { name: 'job_title', source: 'en.job_title', category: 'user.professional', field: 'jobTitle', kind: 'text' },
  { name: 'industry', source: 'en.industry', category: 'user.professional', field: 'industry', kind: 'text' },
  { name: 'web_presence', source: 'en.web_presence', category: 'user.professional', field: 'webPresence', kind: 'text' },
  { name: 'consent_marketing', source: 'c.marketing', category: 'user.consent', field: 'consent', kind: 'value' },
  { name: 'consent_enrichment', source: 'c.enrichment', category: 'user.consent', field: 'consent', kind: 'value' },
  { name: 'consent_do_not_sell', source: 'c.do_not_sell', category: 'user.consent', field: 'consent', kind: 'value' },
  { name: 'consent_restricted', source: 'c.restricted', category: 'user.consent', field: 'consent', kind: 'value' },
  { name: 'consent_objection', source: 'c.objection', category: 'user.consent', field: 'consent', kind: 'value' },
  { name: 'consent_updated_at', source: 'c.updated_at', category: 'user.consent', field: 'consent', kind: 'value' },
];

/** A value as the purpose may read it: masked by a state (null), then by the purpose's level. */
function revealed(column: ValueColumn, reasons: string): string {
  const level = `pol.levels ->> '${column.category}'`;
  const byLevel =
    column.kind === 'value'
      ? `case when ${level} = 'full' then ${column.source} end`
      : `custodian_reveal(${column.source}, ${level}, '${column.kind}')`;
  return column.field === null ? byLevel : `case when ${reasons} ? '${column.field}' then null else ${byLevel} end`;
}

const personValues = (reasons: string) => PERSON_COLUMNS.map((c) => `${revealed(c, reasons)} as ${c.name}`).join(',\n      ');

/** The current purpose's row of the policy: none (so every view is empty) when no declared purpose is set. */
const CURRENT_POLICY = `access_policy pol on pol.purpose = current_setting('app.purpose', true)`;

/**
 * A person's mask reasons and list membership for the purpose, from their consent row. The states
 * themselves stay inside the view: a purpose learns of them only what the reasons it may see say.
 */
const personState = (exists: string, fenced: boolean) => `cross join lateral (
      select coalesce(pol.reasons -> array_to_string(st.states, ','), '{}'::jsonb) as reasons,
        not (pol.unlisted && st.states) as listed
      from (select custodian_person_states(${exists}, c.restricted, c.objection, c.marketing, c.do_not_sell, c.enrichment) as states) st${fenced ? '\n      offset 0' : ''}
    ) s`;

/** People are rows only for a purpose that reads something about someone per person (not for aggregate-only purposes). */
const READS_PEOPLE = 'pol.reads_people';

/**
 * The views' definitions. `fenced` keeps each person's state a subquery of its own (`offset 0`),
 * computed once per row: migration 0011 replaces the views with it (see there); this migration
 * created them without. Frozen like the rest of this file: 0011 applies them, and
 * tests/issue-10-red-team.test.ts checks every view reads the same before and after. A later
 * change to a view writes its definition out in a new migration (as 0012 does).
 */
export const maskedViewDefinitions = (fenced: boolean): readonly [name: string, body: string][] => [
  [
    'people',
    `select p.id as person_id, s.reasons as mask_reasons, s.listed,
      ${personValues('s.reasons')}
    from people p
    join ${CURRENT_POLICY}
    left join consents c on c.person_id = p.id
    left join enrichments en on en.person_id = p.id
    ${personState('true', fenced)}
    where ${READS_PEOPLE}`,
  ],
  [
    // A person as one tenant knows them. An erased person's attendee rows point at nobody.
    'attendees',
    `select a.tenant_id, a.id, a.person_id, s.reasons as mask_reasons, s.listed,
      ${personValues('s.reasons')}
    from attendees a
    join ${CURRENT_POLICY}
    left join people p on p.id = a.person_id
    left join consents c on c.person_id = a.person_id
    left join enrichments en on en.person_id = a.person_id
    ${personState('a.person_id is not null', fenced)}
    where ${READS_PEOPLE}`,
  ],
  [
    // Orders exist for a purpose that reads transactions or tickets per person, and not for a
    // person whose state hides them; an erased person's orders stay, without their payment reference.
    'orders',
    `select o.tenant_id, o.id, a.person_id, o.event_id, o.attendee_id,
      case when pol.levels ? 'user.financial.transaction' then o.placed_at end as placed_at,
      case when pol.levels ? 'user.financial.transaction' then o.total_cents end as total_cents,
      case when pol.levels ? 'user.financial.transaction' then o.currency end as currency,
      case when pol.levels ? 'user.financial.transaction' then o.status end as status,
      case when pol.levels ->> 'user.financial.payment' = 'full' and a.person_id is not null then o.payment_ref end as payment_ref
    from orders o
    join attendees a on a.tenant_id = o.tenant_id and a.id = o.attendee_id
    join ${CURRENT_POLICY}
    left join consents c on c.person_id = a.person_id
    ${personState('a.person_id is not null', fenced)}
    where (pol.levels ? 'user.financial.transaction' or pol.levels ? 'user.financial.transaction.ticket')
      and not s.reasons ? 'orders'`,
  ],
  [
    'tickets',
    `select t.tenant_id, t.id, t.order_id, t.type, t.checked_in_at
    from tickets t
    join ${CURRENT_POLICY}
    where pol.levels ? 'user.financial.transaction.ticket'
      and exists (select 1 from masked.orders o where o.tenant_id = t.tenant_id and o.id = t.order_id)`,
  ],
  [
    // Hidden when either end's state hides relationships (an opt-out stops tracking from both sides).
    'relationships',
    `select r.tenant_id, r.from_attendee_id, r.to_attendee_id, r.kind
    from relationships r
    join ${CURRENT_POLICY}
    where pol.levels ? 'user.social'
      and not exists (select 1 from masked.attendees a
        where a.tenant_id = r.tenant_id and a.id in (r.from_attendee_id, r.to_attendee_id) and a.mask_reasons ? 'relationships')`,
  ],
  [
    'devices',
    `select d.person_id, host(d.ip) as ip, d.user_agent
    from devices d
    join masked.people mp on mp.person_id = d.person_id
    join ${CURRENT_POLICY}
    where pol.levels ? 'user.device' and not mp.mask_reasons ? 'devices'`,
  ],
  [
    'usage_events',
    `select u.person_id, u.at, u.page, u.feature
    from usage_events u
    join masked.people mp on mp.person_id = u.person_id
    join ${CURRENT_POLICY}
    where pol.levels ? 'user.behavior' and not mp.mask_reasons ? 'usage'`,
  ],
  [
    'support_cases',
    `select sc.person_id, sc.id, sc.opened_at, sc.resolved_at, sc.subject, sc.body
    from support_cases sc
    join masked.people mp on mp.person_id = sc.person_id
    join ${CURRENT_POLICY}
    where pol.levels ? 'user.communication' and not mp.mask_reasons ? 'supportCases'`,
  ],
];

const VIEWS = maskedViewDefinitions(false);

const PERSON_TABLES = ['people', 'consents', 'enrichments', 'devices', 'usage_events', 'support_cases', 'attendees', 'orders', 'tickets', 'relationships'];

/** Key columns the application role still reads directly: ids and links for its writes and the RLS conditions. */
const KEY_COLUMNS: Record<string, string> = {
  people: 'id',
  consents: 'person_id',
  enrichments: 'person_id',
  devices: 'person_id',
  usage_events: 'person_id',
  support_cases: 'person_id',
  attendees: 'tenant_id, id, person_id',
  orders: 'tenant_id, id, event_id, attendee_id',
  relationships: 'tenant_id, from_attendee_id, to_attendee_id',
};

export async function up(db: Kysely<unknown>): Promise<void> {
  // Roles are shared by the server's databases; another database's migration may be creating it too.
  await sql`
    do $$ begin
      create role custodian_reader nologin;
    exception when others then
      if not exists (select 1 from pg_roles where rolname = 'custodian_reader') then raise; end if;
    end $$;
  `.execute(db);
  // The migrating role hands the views to custodian_reader, which needs it to be a member.
  await sql`do $$ begin
      if not (select rolsuper from pg_roles where rolname = current_user) then
        execute format('grant custodian_reader to %I', current_user);
      end if;
    end $$`.execute(db);

  await sql`create table access_policy (
    purpose text primary key,
    -- category -> full | partial | hash, for the categories this purpose reads per person
    levels jsonb not null,
    -- whether it reads any personal (user.*) category per person; if not, no person is a row for it
    reads_people boolean not null,
    -- categories this purpose may count people by (agg or full)
    aggregable text[] not null,
    -- a person's states (comma-joined, in custodian_person_states order) -> { field: reason }
    reasons jsonb not null,
    -- states that leave a person out of lists, and out of aggregates (masked.audience_breakdown), for this purpose
    unlisted text[] not null,
    uncounted text[] not null,
    -- aggregate dimension -> category, and the smallest bucket shown
    dimensions jsonb not null,
    minimum_group_size integer not null check (minimum_group_size >= 2),
    -- the policy it was written from (SHA-256 of its canonical form), the same on every row
    policy_hash text not null
  )`.execute(db);

  await sql`create function custodian_person_states(present boolean, restricted boolean, objection boolean,
      marketing boolean, do_not_sell boolean, enrichment boolean) returns text[]
    language sql immutable parallel safe as $$
      -- A missing consent row reads as the most protective choice; erasure is not restriction or
      -- objection (an erased person's orders stay readable and counted).
      select array_remove(array[
        case when not present then 'erased' end,
        case when present and coalesce(restricted, true) then 'restricted' end,
        case when present and coalesce(objection, true) then 'objection' end,
        case when not coalesce(marketing, false) then 'noMarketingConsent' end,
        case when coalesce(do_not_sell, true) then 'doNotSell' end,
        case when not coalesce(enrichment, false) then 'enrichmentOptOut' end
      ], null)
    $$`.execute(db);

  // POLICY.md's partial masks (email: q***@example.net; phone: ***-6027) and hashed identifiers
  // (SHA-256 hex of the trimmed, lower-cased email): the only place values are masked.
  await sql`create function custodian_reveal(value text, level text, kind text) returns text
    language sql immutable parallel safe as $$
      select case
        when value is null or level is null then null
        when level = 'full' then value
        when level = 'hash' then encode(sha256(convert_to(case when kind = 'email' then lower(btrim(value)) else btrim(value) end, 'UTF8')), 'hex')
        when level = 'partial' and kind = 'email' then
          case when strpos(reverse(value), '@') = 0 or strpos(reverse(value), '@') = length(value) then '***'
            else left(value, 1) || '***' || right(value, strpos(reverse(value), '@')) end
        when level = 'partial' and kind = 'phone' then
          case when length(regexp_replace(value, '\\D', '', 'g')) < 4 then '***'
            else '***-' || right(regexp_replace(value, '\\D', '', 'g'), 4) end
        when level = 'partial' then '***'
      end
    $$`.execute(db);

  await sql`create schema masked`.execute(db);
  for (const [name, body] of VIEWS) {
    await sql.raw(`create view masked.${name} with (security_barrier) as ${body}`).execute(db);
  }

  /*
   * Aggregates: people per bucket of a dimension, counted inside the database so that no `agg`
   * value ever leaves it per person, with POLICY.md's suppression applied before anything is
   * returned: a bucket under the minimum size shows nothing, and hidden buckets are reported as one
   * SUPPRESSED bucket whose total is 0 or at least the minimum (complementary suppression: the
   * smallest visible buckets are hidden too until it is), so no difference recovers a hidden count;
   * a hidden total under the minimum with nothing visible returns no bucket, as nobody would.
   */
  await sql`create function masked.audience_breakdown(p_dimension text, p_event_tenant text, p_event_id text)
    returns table (value text, people integer, suppressed boolean)
    language plpgsql stable security definer set search_path = public, pg_temp as $$
    declare
      pol access_policy;
      category text;
      personal boolean := p_dimension <> 'TICKET_TYPE';
      hidden_total integer := 0;
      bucket record;
      visible jsonb := '[]'::jsonb;
      i integer;
    begin
      select * into pol from access_policy where purpose = current_setting('app.purpose', true);
      category := pol.dimensions ->> p_dimension;
      if pol.purpose is null or category is null or not (category = any(pol.aggregable)) then
        raise exception 'the purpose may not count people by %', p_dimension using errcode = 'insufficient_privilege';
      end if;
      for bucket in
        select v.value as bucket_value, count(distinct coalesce(a.person_id, a.tenant_id || '/' || a.id::text))::integer as bucket_people
        from attendees a
        left join people p on p.id = a.person_id
        left join consents c on c.person_id = a.person_id
        cross join lateral (select custodian_person_states(a.person_id is not null, c.restricted, c.objection, c.marketing, c.do_not_sell, c.enrichment) as states) st
        left join orders o on p_dimension = 'TICKET_TYPE' and o.tenant_id = a.tenant_id and o.attendee_id = a.id
        left join tickets t on t.tenant_id = o.tenant_id and t.order_id = o.id
        cross join lateral (select case p_dimension
            when 'AGE_RANGE' then p.age_range
            when 'COUNTRY' then case when p.residency like 'EU-%' then split_part(p.residency, '-', 2) else split_part(p.residency, '-', 1) end
            when 'TICKET_TYPE' then t.type
          end as value) v
        where v.value is not null
          and not (pol.uncounted && st.states)
          and not (personal and 'erased' = any(st.states))
          and (p_event_id is null or (a.tenant_id = p_event_tenant and exists (select 1 from orders eo
            where eo.tenant_id = a.tenant_id and eo.attendee_id = a.id and eo.event_id = p_event_id)))
        group by v.value
        order by 2 desc, 1
      loop
        if bucket.bucket_people >= pol.minimum_group_size then
          visible := visible || jsonb_build_array(jsonb_build_object('value', bucket.bucket_value, 'people', bucket.bucket_people));
        else
          hidden_total := hidden_total + bucket.bucket_people;
        end if;
      end loop;
      -- Complementary suppression: hide the smallest visible buckets until the hidden total is safe.
      i := jsonb_array_length(visible) - 1;
      while hidden_total > 0 and hidden_total < pol.minimum_group_size and i >= 0 loop
        hidden_total := hidden_total + (visible -> i ->> 'people')::integer;
        visible := visible - i;
        i := i - 1;
      end loop;
      return query select b ->> 'value', (b ->> 'people')::integer, false from jsonb_array_elements(visible) b order by 1;
      -- Hidden people are reported together only when they are at least the minimum: fewer (with
      -- nothing visible) return no bucket at all, as for nobody, so even their existence stays hidden.
      if hidden_total >= pol.minimum_group_size then
        return query select 'SUPPRESSED'::text, hidden_total, true;
      end if;
    end $$`.execute(db);

  // The views and the aggregate belong to the reader, which reads the person tables under RLS.
  await sql.raw(`grant select on ${PERSON_TABLES.join(', ')}, access_policy to custodian_reader`).execute(db);
  await sql`grant usage on schema masked to custodian_reader`.execute(db);
  for (const [name] of VIEWS) await sql.raw(`alter view masked.${name} owner to custodian_reader`).execute(db);
  await sql`alter function masked.audience_breakdown(text, text, text) owner to custodian_reader`.execute(db);

  // The application role: the views, the aggregate and the policy it runs under; key columns only below them.
  await sql.raw(`revoke select on ${PERSON_TABLES.join(', ')} from custodian_app`).execute(db);
  for (const [table, columns] of Object.entries(KEY_COLUMNS)) {
    await sql.raw(`grant select (${columns}) on ${table} to custodian_app`).execute(db);
  }
  await sql`grant usage on schema masked to custodian_app`.execute(db);
  await sql.raw(`grant select on ${VIEWS.map(([name]) => `masked.${name}`).join(', ')}, access_policy to custodian_app`).execute(db);
  await sql`revoke all on function masked.audience_breakdown(text, text, text) from public`.execute(db);
  await sql`grant execute on function masked.audience_breakdown(text, text, text) to custodian_app`.execute(db);
}
