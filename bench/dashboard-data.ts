/**
 * The organizer-dashboard data set of issue 10: one tenant, one event, 100 attendees, each with
 * name, email and consent, 204 orders and 415 tickets (about 64 KB of JSON per page). It is
 * imported beside the demo data, in the import format, so the gateway and the raw-SQL peer read
 * exactly the same rows.
 */
export const BENCH_TENANT = 'bench-arena';
export const BENCH_EVENT = 'evt-bench-1';
export const BENCH_ATTENDEES = 100;

const CONSENTS = [
  { marketing: true, enrichment: false, doNotSell: false, restricted: false, objection: false },
  { marketing: false, enrichment: false, doNotSell: false, restricted: false, objection: false },
  { marketing: true, enrichment: true, doNotSell: false, restricted: false, objection: false },
  { marketing: false, enrichment: false, doNotSell: true, restricted: false, objection: false },
];

export function dashboardData(): unknown {
  const people: unknown[] = [];
  const orders: Record<string, unknown>[] = [];
  let ticketCount = 0;
  for (let i = 1; i <= BENCH_ATTENDEES; i++) {
    const n = String(i).padStart(4, '0');
    const id = `per-bench-${n}`;
    people.push({
      id,
      name: `Bench Person ${n}`,
      email: `bench.person.${n}@example.org`,
      phone: `+1555${String(1_000_000 + i)}`,
      billingAddress: { line1: `${i} Bench St`, city: 'Utrecht', region: 'UT', postalCode: '3511', country: 'NL' },
      residency: 'EU-NL',
      consent: CONSENTS[i % CONSENTS.length],
      device: { ip: '203.0.113.77', userAgent: 'Mozilla/5.0 (X11; Linux x86_64)' },
      createdAt: '2025-01-01T12:00:00.000Z',
      lastActiveAt: '2026-11-01T12:00:00.000Z',
    });
    // 2 orders each, 3 for the first 4 people: 204 orders; 2 tickets each, 3 for 7 orders: 415.
    const orderCount = i <= 4 ? 3 : 2;
    for (let o = 1; o <= orderCount; o++) {
      const orderId = `ord-bench-${n}-${o}`;
      const ticketsHere: number = orders.length < 7 ? 3 : 2;
      orders.push({
        id: orderId,
        tenant: BENCH_TENANT,
        event: BENCH_EVENT,
        person: id,
        placedAt: new Date(Date.UTC(2026, 9, 1 + (i % 28), 10, o)).toISOString(),
        totalCents: 4500 * ticketsHere,
        currency: 'EUR',
        status: 'paid',
        paymentRef: `pi_bench_${n}_${o}`,
        tickets: Array.from({ length: ticketsHere }, (_, t) => ({ id: `tkt-bench-${n}-${o}-${t + 1}`, type: t === 0 ? 'vip' : 'general' })),
      });
      ticketCount += ticketsHere;
    }
  }
  if (orders.length !== 204 || ticketCount !== 415) throw new Error(`bench data: ${orders.length} orders, ${ticketCount} tickets`);
  return {
    tenants: [{ id: BENCH_TENANT, name: 'Bench Arena' }],
    events: [{ id: BENCH_EVENT, tenant: BENCH_TENANT, name: 'Bench Night', venue: 'Main Hall', startsAt: '2026-12-05T19:00:00.000Z' }],
    people,
    orders,
    relationships: [],
    usageEvents: [],
    supportCases: [],
  };
}

/** The page: what an organizer dashboard asks for. */
export const DASHBOARD_QUERY = `query Dashboard($event: ID) {
  attendees(eventId: $event, first: ${BENCH_ATTENDEES}) { edges { node {
    id name email
    consent { marketing enrichment doNotSell restricted objection updatedAt }
    orders { id placedAt totalCents currency status tickets { id type checkedInAt } }
  } } }
}`;
