import { describe, expect, it } from 'vitest';
import { DATABASE_KINDS } from './support/test-database.js';
import { gatewayFixture } from './support/test-gateway.js';

interface Request {
  kind: string;
  requestedAt: string;
  completedAt: string | null;
}

describe.each(DATABASE_KINDS)("a data-subject request's timestamps are ordered (%s)", (kind) => {
  const fixture = gatewayFixture(kind);

  it('completedAt is never before requestedAt, whether carried out at once or after being filed', async () => {
    const token = await fixture.keys.sign({ sub: 'officer-ts', roles: ['privacy_officer'] });
    const ask = (query: string) => fixture.gateway.request<Record<string, unknown>>({ query, token, purpose: 'legal-compliance' });
    const person = 'per-1-0033';
    expect((await ask(`mutation { setConsent(personId: "${person}", input: { marketing: false }) { marketing } }`)).body.errors).toBeUndefined();
    const filed = await ask(`mutation { fileDataSubjectRequest(personId: "${person}", kind: RESTRICTION, receivedAt: "${new Date(Date.now() - 86_400_000).toISOString()}") { dueAt } }`);
    expect(filed.body.errors).toBeUndefined();
    expect((await ask(`mutation { restrictProcessing(personId: "${person}", restricted: true) { restricted } }`)).body.errors).toBeUndefined();
    const erased = await ask(`mutation { requestErasure(personId: "${person}") { kind requestedAt completedAt } }`);
    expect(erased.body.errors).toBeUndefined();

    const history = await ask(`{ dataSubject(personId: "${person}") { requests { kind requestedAt completedAt } } }`);
    const requests = (history.body.data as { dataSubject: { requests: Request[] } | null }).dataSubject?.requests
      ?? [(erased.body.data as { requestErasure: Request }).requestErasure];
    expect(requests.length).toBeGreaterThan(0);
    for (const request of [...requests, (erased.body.data as { requestErasure: Request }).requestErasure]) {
      expect(request.completedAt, request.kind).not.toBeNull();
      expect(Date.parse(request.completedAt!), request.kind).toBeGreaterThanOrEqual(Date.parse(request.requestedAt));
    }
  });
});
