import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withScope } from '../src/db/request-scope.js';
import { DATABASE_KINDS } from './support/test-database.js';
import { gatewayFixture } from './support/test-gateway.js';

interface Hold {
  personId: string;
  reason: string;
  placedAt: string;
  until: string | null;
  liftedAt: string | null;
  active: boolean;
}

const HOLD = 'personId reason placedBy placedAt until liftedBy liftedAt active';
const REQUEST = 'id kind completedAt waitingFor';

describe.each(DATABASE_KINDS)('legal holds (%s)', (kind) => {
  const fixture = gatewayFixture(kind);
  const officerSub = `officer-${randomUUID()}`;
  const officer = () => fixture.keys.sign({ roles: ['privacy_officer'], sub: officerSub });
  const asOfficer = async <T>(query: string, variables: Record<string, unknown> = {}) =>
    fixture.gateway.request<T>({ query, variables, token: await officer(), purpose: 'legal-compliance' });

  const personExists = async (personId: string) =>
    (await withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) => trx.selectFrom('people').select('id').where('id', '=', personId).execute()))
      .length === 1;

  it('an erasure request for a held person waits and says why; lifting the hold carries it out', async () => {
    const personId = 'per-1-0011';
    const placed = await asOfficer<{ placeLegalHold: Hold }>(
      `mutation($p: ID!) { placeLegalHold(personId: $p, reason: "Chargeback dispute with the card issuer", until: "2099-01-01T00:00:00Z") { ${HOLD} } }`,
      { p: personId },
    );
    expect(placed.body.errors).toBeUndefined();
    expect(placed.body.data!.placeLegalHold).toMatchObject({ personId, active: true, liftedAt: null, until: '2099-01-01T00:00:00.000Z' });

    const erasure = await asOfficer<{ requestErasure: { id: string; completedAt: string | null; waitingFor: string | null } }>(
      `mutation($p: ID!) { requestErasure(personId: $p) { ${REQUEST} } }`,
      { p: personId },
    );
    expect(erasure.body.errors).toBeUndefined();
    expect(erasure.body.data!.requestErasure).toMatchObject({ kind: 'ERASURE', completedAt: null, waitingFor: 'LEGAL_HOLD' });
    expect(await personExists(personId)).toBe(true);

    // Asking again while held returns the same waiting request.
    const again = await asOfficer<{ requestErasure: { id: string } }>(`mutation($p: ID!) { requestErasure(personId: $p) { ${REQUEST} } }`, { p: personId });
    expect(again.body.data!.requestErasure.id).toBe(erasure.body.data!.requestErasure.id);

    const lifted = await asOfficer<{ liftLegalHold: Hold }>(`mutation($p: ID!) { liftLegalHold(personId: $p) { ${HOLD} } }`, { p: personId });
    expect(lifted.body.errors).toBeUndefined();
    expect(lifted.body.data!.liftLegalHold.active).toBe(false);
    expect(lifted.body.data!.liftLegalHold.liftedAt).not.toBeNull();
    expect(await personExists(personId)).toBe(false);
    const requests = await withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('data_subject_requests').select(['id', 'completed_at']).where('person_id', '=', personId).where('kind', '=', 'ERASURE').execute(),
    );
    expect(requests).toHaveLength(1);
    expect(requests[0]!.id).toBe(erasure.body.data!.requestErasure.id);
    expect(requests[0]!.completed_at).not.toBeNull();

    // The hold stays listed, lifted.
    const listed = await asOfficer<{ legalHolds: Hold[] }>(`query($p: ID) { legalHolds(personId: $p) { ${HOLD} } }`, { p: personId });
    expect(listed.body.data!.legalHolds).toHaveLength(1);
    expect(listed.body.data!.legalHolds[0]).toMatchObject({ reason: 'Chargeback dispute with the card issuer', active: false });
  });

  it("a person's own erasure request waits too; they learn it waits for a legal hold, never the hold's reason", async () => {
    const personId = 'per-1-0012';
    await asOfficer(`mutation($p: ID!) { placeLegalHold(personId: $p, reason: "Fraud investigation 2026-114") { personId } }`, { p: personId });
    const self = await fixture.keys.sign({ roles: ['data_subject'], sub: personId });
    const response = await fixture.gateway.request<{ requestErasure: { waitingFor: string; completedAt: string | null } }>({
      query: `mutation($p: ID!) { requestErasure(personId: $p) { ${REQUEST} } }`,
      variables: { p: personId },
      token: self,
      purpose: 'self-service',
    });
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.requestErasure).toMatchObject({ waitingFor: 'LEGAL_HOLD', completedAt: null });
    expect(JSON.stringify(response.body)).not.toContain('Fraud investigation');
    expect(await personExists(personId)).toBe(true);
    // The person cannot read holds, nor place or lift them.
    for (const query of [`{ legalHolds { personId } }`, `mutation { liftLegalHold(personId: "${personId}") { personId } }`]) {
      const refused = await fixture.gateway.request({ query, token: self, purpose: 'self-service' });
      expect(refused.status).toBe(403);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('FIELD_NOT_PERMITTED');
    }
  });

  it('holds are logged in the access log, with the person they are about', async () => {
    const personId = 'per-1-0013';
    await asOfficer(`mutation($p: ID!) { placeLegalHold(personId: $p, reason: "Tax audit") { personId reason } }`, { p: personId });
    await asOfficer(`{ legalHolds { personId reason } }`);
    const entries = await withScope(fixture.database.owner.db, { kind: 'maintenance' }, (trx) =>
      trx.selectFrom('access_log').select(['purpose', 'subjects', 'fields']).where('actor', '=', officerSub).orderBy('seq').execute(),
    );
    const placing = entries.find((e) => e.fields.includes('Mutation.placeLegalHold') || e.fields.includes('LegalHold.reason'));
    expect(placing).toBeDefined();
    expect(entries.some((e) => e.subjects.includes(personId) && e.fields.includes('LegalHold.reason'))).toBe(true);
    expect(entries.every((e) => e.purpose === 'legal-compliance')).toBe(true);
  });

  it('refuses a second active hold, a lift without a hold, bad input, unknown people and other roles', async () => {
    const personId = 'per-1-0014';
    await asOfficer(`mutation($p: ID!) { placeLegalHold(personId: $p, reason: "Litigation") { personId } }`, { p: personId });
    const cases: [string, string][] = [
      [`mutation { placeLegalHold(personId: "${personId}", reason: "Another") { personId } }`, 'BAD_USER_INPUT'],
      [`mutation { liftLegalHold(personId: "per-1-0015") { personId } }`, 'NOT_FOUND'],
      [`mutation { placeLegalHold(personId: "per-1-0015", reason: "   ") { personId } }`, 'BAD_USER_INPUT'],
      [`mutation { placeLegalHold(personId: "per-1-0015", reason: "Past", until: "2001-01-01T00:00:00Z") { personId } }`, 'BAD_USER_INPUT'],
      [`mutation { placeLegalHold(personId: "per-nobody", reason: "Unknown") { personId } }`, 'NOT_FOUND'],
    ];
    for (const [query, code] of cases) {
      const response = await asOfficer(query);
      expect(response.body.errors?.[0]?.extensions?.code, query).toBe(code);
    }
    for (const [roles, purpose] of [
      [['security_reviewer'], 'security-audit'],
      [['support_agent'], 'customer-support'],
    ] as const) {
      const refused = await fixture.gateway.request({
        query: `mutation { placeLegalHold(personId: "per-1-0016", reason: "x") { personId } }`,
        token: await fixture.keys.sign({ roles: [...roles] }),
        purpose,
      });
      expect(refused.status).toBe(403);
      expect(refused.body.errors?.[0]?.extensions?.code).toBe('FIELD_NOT_PERMITTED');
    }
    const list = await asOfficer<{ legalHolds: Hold[] }>(`{ legalHolds { personId active } }`);
    expect(list.body.data!.legalHolds.filter((h) => h.personId === personId && h.active)).toHaveLength(1);
  });

  it('a RETENTION request is recorded by retention only: filing one is refused', async () => {
    const response = await asOfficer(`mutation { fileDataSubjectRequest(personId: "per-1-0017", kind: RETENTION) { id } }`);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
