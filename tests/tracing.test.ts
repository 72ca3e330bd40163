import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenVerifier } from '../src/auth/token-verifier.js';
import { startTracing, type Tracing } from '../src/ops/tracing.js';
import { loadPolicyFile } from '../src/policy/policy.js';
import { createGateway, listen, type RunningGateway } from '../src/server.js';
import { POLICY_FILE } from './support/test-gateway.js';
import { createTestDatabase, demoData, type TestDatabase } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';

interface OtlpSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes?: { key: string; value: Record<string, unknown> }[];
}

// A real OTLP/HTTP receiver on loopback: the exporter posts JSON to /v1/traces.
describe('OpenTelemetry traces (OTEL_EXPORTER_OTLP_ENDPOINT)', () => {
  let collector: Server;
  const spans: OtlpSpan[] = [];
  const bodies: string[] = [];
  let database: TestDatabase;
  let keys: TestKeys;
  let running: RunningGateway;
  let tracing: Tracing;

  beforeAll(async () => {
    collector = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        bodies.push(body);
        const parsed = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const resource of parsed.resourceSpans) for (const scope of resource.scopeSpans) spans.push(...scope.spans);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
    tracing = startTracing(endpoint)!;
    database = await createTestDatabase('pglite');
    keys = await createTestKeys();
    const policy = loadPolicyFile(POLICY_FILE);
    running = await listen(createGateway({ database: database.app, policy, verifier: await createTokenVerifier(keys.auth), production: false }), '127.0.0.1', 0);
  });
  afterAll(async () => {
    await running?.close();
    await database?.destroy();
    await tracing?.shutdown();
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await new Promise<void>((resolve) => collector.close(() => resolve()));
  });

  it('exports one trace per request: verification, policy, execution, SQL and the access-log write, with nothing personal', async () => {
    const token = await keys.sign({ sub: 'trace-admin', roles: ['organizer_admin'], tenant: 'northwind-live' });
    const response = await fetch(running.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'ticketing' },
      body: JSON.stringify({ query: 'query Traced { attendees(first: 5) { edges { node { name email } } } }' }),
    });
    expect(response.status).toBe(200);
    await response.text();
    await tracing.flush();

    const root = spans.find((s) => s.name === 'POST /graphql');
    expect(root).toBeDefined();
    const trace = spans.filter((s) => s.traceId === root!.traceId);
    const names = trace.map((s) => s.name);
    for (const name of ['auth.verify', 'policy.validate', 'graphql.execute', 'sql select', 'access_log.write']) expect(names).toContain(name);
    for (const span of trace) if (span !== root) expect(span.parentSpanId, span.name).toBeTruthy();
    const execute = trace.find((s) => s.name === 'graphql.execute')!;
    expect(trace.find((s) => s.name === 'access_log.write')!.parentSpanId).toBe(execute.spanId);

    const exported = bodies.join('\n');
    const people = (demoData() as { people: { id: string; name: string; email: string }[] }).people;
    for (const person of people) for (const value of [person.id, person.name, person.email]) expect(exported).not.toContain(value);
    expect(exported).not.toContain('trace-admin');
    expect(exported).not.toContain(token.split('.')[1]!);
  });
});
