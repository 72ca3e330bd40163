import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../src/server.js';
import { buildPolicy, loadPolicyFile, PolicyError } from '../src/policy/policy.js';
import { createTokenVerifier } from '../src/auth/token-verifier.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';
import { gatewayFixture, POLICY_FILE } from './support/test-gateway.js';

/**
 * A policy fixture: the project's policy with one edit, written to a temporary file, so the
 * fixture can never drift from the real policy in anything but the edit under test.
 */
function fixture(name: string, edit: (policy: string) => string): string {
  const original = fs.readFileSync(POLICY_FILE, 'utf8');
  const edited = edit(original);
  if (edited === original) throw new Error(`fixture ${name}: the edit changed nothing`);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-policy-')), `${name}.yaml`);
  fs.writeFileSync(file, edited);
  return file;
}

const unclassifiedPhone = () => fixture('unclassified-personal-field', (p) => p.replace('      phone: user.contact.phone\n', ''));
const missingTicketType = () => fixture('missing-personal-type', (p) => p.replace(/  Ticket:\n    personal: true\n    fields:\n(      .*\n)+/, ''));
const undeclaredPurpose = () =>
  fixture('undeclared-purpose', (p) => p.replace('    purposes: [event-checkin]\n', '    purposes: [event-checkin, door-sales]\n'));

describe('the server refuses to start on an incomplete policy', () => {
  let database: TestDatabase;
  let keys: TestKeys;
  beforeAll(async () => {
    database = await createTestDatabase('pglite', { seed: false });
    keys = await createTestKeys();
  });
  afterAll(async () => {
    await database?.destroy();
  });

  async function startWith(policyFile: string) {
    const verifier = await createTokenVerifier(keys.auth);
    return () => createGateway({ database: database.app, policy: loadPolicyFile(policyFile), verifier, production: false });
  }

  it('starts on the project policy (the control)', async () => {
    expect(await startWith(POLICY_FILE)).not.toThrow();
  });

  it('names a personal field the policy leaves unclassified', async () => {
    const start = await startWith(unclassifiedPhone());
    expect(start).toThrow(PolicyError);
    expect(start).toThrow(/personal field Attendee\.phone is unclassified/);
  });

  it('names a personal type the policy forgot', async () => {
    const start = await startWith(missingTicketType());
    expect(start).toThrow(/type Ticket is not in the policy \(it holds personal data\)/);
  });

  it('refuses a role given an undeclared purpose', () => {
    expect(() => loadPolicyFile(undeclaredPurpose())).toThrow(/role organizer_staff is given the undeclared purpose "door-sales"/);
  });

  it('refuses a category naming an undeclared purpose, a partial level without a mask rule, and unknown keys', () => {
    const attempt = () =>
      buildPolicy({
        purposes: { ticketing: 'x' },
        roles: { organizer_admin: { scope: 'tenant', purposes: ['ticketing'] } },
        categories: { 'user.name': { access: { ticketing: 'partial', haunting: 'full' } } },
        types: { Attendee: { personal: true, fields: { name: 'user.name', email: 'user.contact.email' } } },
      });
    expect(attempt).toThrow(/undeclared purpose "haunting"/);
    expect(attempt).toThrow(/"partial" for ticketing, but has no partial mask rule/);
    expect(attempt).toThrow(/undeclared category "user.contact.email"/);
    expect(() => buildPolicy({ purposes: {}, roles: {}, categories: {}, types: {}, extra: 1 })).toThrow(PolicyError);
  });
});

describe('default deny at request time', () => {
  const fixture = gatewayFixture('pglite');

  const ask = async (query: string, purpose = 'ticketing') =>
    fixture.gateway.request({ query, token: await fixture.keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' }), purpose });

  it('reads the fields the purpose allows (the control)', async () => {
    const response = await ask('{ attendees(first: 1) { edges { node { id name email orders { id totalCents } } } } }');
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
  });

  it.each([
    ['a plain field', '{ attendees { edges { node { phone } } } }', ['Attendee.phone']],
    ['an alias', '{ attendees { edges { node { contact: phone } } } }', ['Attendee.phone']],
    ['a named fragment', '{ attendees { edges { node { ...A } } } } fragment A on Attendee { name billingAddress { city } }', ['Address.city', 'Attendee.billingAddress']],
    ['an inline fragment', '{ attendee(id: "00000000-0000-0000-0000-000000000000") { ... on Attendee { ageRange } } }', ['Attendee.ageRange']],
    ['a fragment on an interface', '{ attendees { edges { node { ... on Person { name phone } } } } }', ['Attendee.phone', 'DataSubject.phone']],
    ['a named fragment on an interface', '{ attendees { edges { node { ...P } } } } fragment P on Person { x: ageRange }', ['Attendee.ageRange', 'DataSubject.ageRange']],
    ['a field inside an allowed one', '{ attendees { edges { node { orders { id paymentRef } } } } }', ['Order.paymentRef']],
    [
      'several at once',
      '{ attendees { edges { node { phone company x: company relationships { kind } orders { paymentRef } } } } }',
      ['Attendee.company', 'Attendee.phone', 'Attendee.relationships', 'Order.paymentRef', 'Relationship.kind'],
    ],
  ])('refuses %s with FIELD_NOT_PERMITTED and reads nothing', async (_route, query, fields) => {
    const before = fixture.database.app.statements.count;
    const response = await ask(query);
    expect(response.status).toBe(403);
    expect(response.body.data).toBeUndefined();
    expect(response.body.errors?.[0]?.extensions?.code).toBe('FIELD_NOT_PERMITTED');
    expect(response.body.errors?.[0]?.extensions?.fields).toEqual(fields);
    expect(fixture.database.app.statements.count).toBe(before);
  });

  it('refuses a filter on what the purpose may not read (attendance, for marketing)', async () => {
    const before = fixture.database.app.statements.count;
    const response = await ask('{ attendees(eventId: "evt-nl-1") { edges { node { id email } } } }', 'marketing');
    expect(response.status).toBe(403);
    expect(response.body.errors?.[0]?.extensions?.fields).toEqual(['Query.attendees(eventId)']);
    expect(fixture.database.app.statements.count).toBe(before);
    // The same read without the filter is allowed, with hashed emails.
    const unfiltered = await ask('{ attendees(first: 1) { edges { node { id email } } } }', 'marketing');
    expect(unfiltered.body.errors).toBeUndefined();
  });

  it('refuses per-person reads for an aggregate-only purpose', async () => {
    const response = await fixture.gateway.request({
      query: '{ attendees { edges { node { id } } } }',
      token: await fixture.keys.sign({ roles: ['organizer_admin'], tenant: 'northwind-live' }),
      purpose: 'grant-reporting',
    });
    expect(response.status).toBe(403);
    expect(response.body.errors?.[0]?.extensions?.fields).toEqual(['Attendee.id', 'Query.attendees']);
  });

  it('masks email as POLICY.md says for door staff', async () => {
    const response = await fixture.gateway.request<{ attendees: { edges: { node: { email: string | null; masked: { field: string; reason: string }[] } }[] } }>({
      query: '{ attendees(first: 500) { edges { node { email masked { field reason } orders { tickets { id } } } } } }',
      token: await fixture.keys.sign({ roles: ['organizer_staff'], tenant: 'northwind-live' }),
      purpose: 'event-checkin',
    });
    expect(response.body.errors).toBeUndefined();
    const nodes = response.body.data!.attendees.edges.map((e) => e.node);
    // A person whose processing is restricted is masked whole (their email null); check-in may not
    // read consent, so the reason is WITHHELD rather than PROCESSING_RESTRICTED. Everyone else's
    // email is partial.
    const partial = nodes.filter((node) => node.email !== null);
    expect(partial.length).toBeGreaterThan(20);
    for (const node of partial) {
      expect(node.email).toMatch(/^[a-z]\*\*\*@example\.(com|net|org)$/);
      expect(node.masked).toEqual([{ field: 'email', reason: 'PARTIAL' }]);
    }
    for (const node of nodes.filter((n) => n.email === null)) {
      expect(node.masked).toContainEqual({ field: 'email', reason: 'WITHHELD' });
      expect(JSON.stringify(node.masked)).not.toMatch(/PROCESSING_RESTRICTED|ERASED/);
    }
  });
});

describe('the policy as documents', () => {
  it('docs/policy.md is generated from the policy (run `npm run policy:docs` after changing it)', async () => {
    const { renderPolicyMatrix } = await import('../src/policy/policy-matrix.js');
    const committed = fs.readFileSync(path.join(import.meta.dirname, '..', 'docs', 'policy.md'), 'utf8');
    expect(renderPolicyMatrix(loadPolicyFile(POLICY_FILE))).toBe(committed);
  });
});
