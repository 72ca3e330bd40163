import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createTokenVerifier } from '../../src/auth/token-verifier.js';
import type { AuthConfig } from '../../src/config.js';
import { projectRoot } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/database.js';
import { loadPolicyFile, type Policy } from '../../src/policy/policy.js';
import type { DatabaseKind } from '../../src/db/database.js';
import { createGateway, listen, type GatewayOptions, type RunningGateway } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';
import { createTestKeys, type TestKeys } from './test-keys.js';

export const POLICY_FILE = path.join(projectRoot, 'schema', 'policy.yaml');

export interface GraphQLResponse<T = Record<string, unknown>> {
  status: number;
  body: {
    data?: T | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; fields?: string[] } & Record<string, unknown> }[];
  };
}

export interface TestGateway extends RunningGateway {
  /** POSTs a GraphQL request over real HTTP, as a client would. */
  request<T = Record<string, unknown>>(options: {
    query: string;
    variables?: Record<string, unknown>;
    token?: string;
    purpose?: string;
    operationName?: string;
    headers?: Record<string, string>;
  }): Promise<GraphQLResponse<T>>;
}

export async function startTestGateway(options: {
  database: DatabaseHandle;
  auth: AuthConfig;
  policy?: Policy;
  production?: boolean;
  /** Anything else createGateway takes (limits, rate limiter, CORS, trusted documents). */
  gateway?: Partial<Omit<GatewayOptions, 'database' | 'policy' | 'verifier' | 'production'>>;
}): Promise<TestGateway> {
  const verifier = await createTokenVerifier(options.auth);
  const gateway = createGateway({
    ...options.gateway,
    database: options.database,
    policy: options.policy ?? loadPolicyFile(POLICY_FILE),
    verifier,
    production: options.production ?? false,
  });
  const running = await listen(gateway, '127.0.0.1', 0);
  return {
    ...running,
    async request({ query, variables, token, purpose, operationName, headers }) {
      const response = await fetch(running.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(purpose === undefined ? {} : { 'x-purpose': purpose }),
          ...headers,
        },
        body: JSON.stringify({ query, variables, operationName }),
      });
      return { status: response.status, body: (await response.json()) as GraphQLResponse['body'] } as never;
    },
  };
}

export interface GatewayFixture {
  database: TestDatabase;
  keys: TestKeys;
  gateway: TestGateway;
}

/**
 * A describe block's seeded database, signing keys and gateway, started before its tests and
 * stopped after them. The fields are filled in beforeAll: read them inside tests and hooks.
 */
export function gatewayFixture(
  kind: DatabaseKind,
  options: { seed?: boolean; gateway?: Parameters<typeof startTestGateway>[0]['gateway'] } = {},
): GatewayFixture {
  const fixture = {} as GatewayFixture;
  beforeAll(async () => {
    fixture.database = await createTestDatabase(kind, { seed: options.seed });
    fixture.keys = await createTestKeys();
    fixture.gateway = await startTestGateway({ database: fixture.database.app, auth: fixture.keys.auth, gateway: options.gateway });
  });
  afterAll(async () => {
    await fixture.gateway?.close();
    await fixture.database?.destroy();
  });
  return fixture;
}
