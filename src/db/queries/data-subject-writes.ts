import { sql, type Kysely } from 'kysely';
import type { Database, PeopleTable } from '../tables.js';

export interface ConsentChanges {
  marketing?: boolean;
  enrichment?: boolean;
  doNotSell?: boolean;
  restricted?: boolean;
  objection?: boolean;
}

/** Applies consent changes; returns false when the person has no consent row in scope. */
export async function updateConsent(db: Kysely<Database>, personId: string, changes: ConsentChanges): Promise<boolean> {
  const result = await db
    .updateTable('consents')
    .set({
      ...(changes.marketing === undefined ? {} : { marketing: changes.marketing }),
      ...(changes.enrichment === undefined ? {} : { enrichment: changes.enrichment }),
      ...(changes.doNotSell === undefined ? {} : { do_not_sell: changes.doNotSell }),
      ...(changes.restricted === undefined ? {} : { restricted: changes.restricted }),
      ...(changes.objection === undefined ? {} : { objection: changes.objection }),
      updated_at: sql<Date>`now()`,
    })
    .where('person_id', '=', personId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export type PersonCorrections = Partial<
  Pick<
    PeopleTable,
    | 'name'
    | 'email'
    | 'phone'
    | 'billing_line1'
    | 'billing_city'
    | 'billing_region'
    | 'billing_postal_code'
    | 'billing_country'
    | 'age_range'
    | 'residency'
  >
>;

export async function correctPerson(db: Kysely<Database>, personId: string, corrections: PersonCorrections): Promise<boolean> {
  const result = await db.updateTable('people').set(corrections).where('id', '=', personId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * The facts a request's due date needs, read before anything changes (through the masking view:
 * the data-subject purposes read residency in full).
 */
export async function residencyOf(db: Kysely<Database>, personId: string): Promise<string | undefined> {
  const row = await db.selectFrom('masked.people').select('residency').where('person_id', '=', personId).executeTakeFirst();
  return row === undefined ? undefined : (row.residency ?? '');
}

/**
 * Erasure: the person's fields leave every live table at once, and nothing that stays can be
 * linked back to them. Each tenant's orders are kept for their 7 years, pseudonymised: they move
 * to a fresh attendee row that points at nobody, without their payment reference, and the attendee
 * row the tenant knew the person by is deleted, so an id read before the erasure answers nothing.
 * Relationships, enrichment, devices, usage, support cases, consent and the profile are deleted.
 */
export async function erasePerson(db: Kysely<Database>, personId: string): Promise<void> {
  // RLS checks an UPDATE's new row against the SELECT policies too, and a person cannot see an
  // attendee row that no longer points at them. The erasure's writes therefore run under the
  // platform scope (still limited by RLS to a data-subject purpose), touching only this person's
  // rows, and the caller's scope is restored before anything else runs.
  const { scope } = (await sql<{ scope: string }>`select current_setting('app.scope', true) as scope`.execute(db)).rows[0]!;
  await sql`select set_config('app.scope', 'platform', true)`.execute(db);
  try {
    await eraseRows(db, personId);
  } finally {
    await sql`select set_config('app.scope', ${scope}, true)`.execute(db);
  }
}

async function eraseRows(db: Kysely<Database>, personId: string): Promise<void> {
  await db
    .deleteFrom('relationships')
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('attendees as a')
          .select(eb.lit(1).as('one'))
          .whereRef('a.tenant_id', '=', 'relationships.tenant_id')
          .where('a.person_id', '=', personId)
          .where((inner) =>
            inner.or([
              inner('a.id', '=', inner.ref('relationships.from_attendee_id')),
              inner('a.id', '=', inner.ref('relationships.to_attendee_id')),
            ]),
          ),
      ),
    )
    .execute();
  // Re-keying: a fresh attendee row per tenant (a person has at most one per tenant), the orders
  // moved to it without their payment reference, then the old rows deleted. Three statements
  // whatever the number of tenants; RLS checks each against the erasure policies of migration 0006.
  const fresh = await sql<{ tenantId: string; id: string }>`insert into attendees (tenant_id, id, person_id)
    select tenant_id, gen_random_uuid(), null from attendees where person_id = ${personId}
    returning tenant_id as "tenantId", id::text as id`.execute(db);
  if (fresh.rows.length > 0) {
    await sql`update orders set attendee_id = m.new_id, payment_ref = null
      from unnest(${fresh.rows.map((r) => r.tenantId)}::text[], ${fresh.rows.map((r) => r.id)}::uuid[]) as m(tenant_id, new_id)
      join attendees a on a.tenant_id = m.tenant_id and a.person_id = ${personId}
      where orders.tenant_id = a.tenant_id and orders.attendee_id = a.id`.execute(db);
  }
  await db.deleteFrom('attendees').where('person_id', '=', personId).execute();
  for (const table of ['usage_events', 'devices', 'support_cases', 'enrichments', 'consents'] as const) {
    await db.deleteFrom(table).where('person_id', '=', personId).execute();
  }
  await db.deleteFrom('people').where('id', '=', personId).execute();
}
