import { sql } from 'kysely';


/**
 * The raw-SQL peer: the dashboard page as one hand-written statement that builds the response's
 * JSON in PostgreSQL (json_agg), read as the owner with no checks: no policy, no masking, no
 * access log. What the gateway's guarantees are measured against.
 */
export function rawDashboardPage(tenantId: string, eventId: string, limit: number) {
  return sql<{ body: string }>`
    select json_build_object('data', json_build_object('attendees', json_build_object('edges',
      coalesce(json_agg(json_build_object('node', page.node) order by page.id), '[]'::json))))::text as body
    from (
      select a.id, json_build_object(
        'id', a.id, 'name', p.name, 'email', p.email,
        'consent', json_build_object('marketing', c.marketing, 'enrichment', c.enrichment, 'doNotSell', c.do_not_sell,
          'restricted', c.restricted, 'objection', c.objection, 'updatedAt', c.updated_at),
        'orders', coalesce((
          select json_agg(json_build_object('id', o.id, 'placedAt', o.placed_at, 'totalCents', o.total_cents,
            'currency', o.currency, 'status', o.status,
            'tickets', coalesce((select json_agg(json_build_object('id', t.id, 'type', t.type, 'checkedInAt', t.checked_in_at) order by t.id)
              from tickets t where t.tenant_id = o.tenant_id and t.order_id = o.id), '[]'::json))
            order by o.placed_at, o.id)
          from orders o where o.tenant_id = a.tenant_id and o.attendee_id = a.id), '[]'::json)) as node
      from attendees a
      join people p on p.id = a.person_id
      join consents c on c.person_id = p.id
      where a.tenant_id = ${tenantId}
        and exists (select 1 from orders o where o.tenant_id = a.tenant_id and o.attendee_id = a.id and o.event_id = ${eventId})
      order by a.id
      limit ${limit}
    ) page`;
}
