import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { TokenVerifier } from './auth/token-verifier.js';
import type { DatabaseHandle } from './db/database.js';
import type { GraphQLContext } from './graphql/context.js';
import { DEFAULT_DATABASE_LIMITS, DEFAULT_OPERATION_LIMITS, type DatabaseLimits, type OperationLimits } from './config.js';
import { useAccessLog } from './graphql/plugins/use-access-log.js';
import { useCaller } from './graphql/plugins/use-caller.js';
import { useCostLimit } from './graphql/plugins/use-cost-limit.js';
import { useDatabaseAvailability } from './graphql/plugins/use-database-availability.js';
import { useExpensiveFields } from './graphql/plugins/use-expensive-fields.js';
import { useFieldPolicy } from './graphql/plugins/use-field-policy.js';
import { useOperationLimits } from './graphql/plugins/use-operation-limits.js';
import { useRequestTransaction } from './graphql/plugins/use-request-transaction.js';
import { useSecurityHeaders } from './graphql/plugins/use-security-headers.js';
import { checkTrustedDocumentRoles, useTrustedDocuments, type TrustedDocumentsOptions } from './graphql/plugins/use-trusted-documents.js';
import type { CallerRateLimiter } from './limits/rate-limiter.js';
import { gatewaySchema } from './graphql/schema.js';
import { describeErrorSafely, silentLogger, type Logger } from './logger.js';
import { createDecisionCache } from './policy/access-decision.js';
import { checkSchemaCoverage } from './policy/check-schema-coverage.js';
import type { Policy } from './policy/policy.js';

export interface GatewayOptions {
  database: DatabaseHandle;
  policy: Policy;
  verifier: TokenVerifier;
  production: boolean;
  logger?: Logger;
  /** Operation limits; defaults are DEFAULT_OPERATION_LIMITS. */
  limits?: Partial<OperationLimits>;
  /** Statement and idle-in-transaction timeouts of each request's transaction. */
  databaseLimits?: Pick<DatabaseLimits, 'statementTimeoutMs' | 'idleInTransactionTimeoutMs'>;
  /** Per-caller request budgets; without one, requests are not rate limited. */
  rateLimiter?: CallerRateLimiter;
  /** Origins allowed cross-origin access; empty or absent = none. */
  corsOrigins?: readonly string[];
  trustedDocuments?: TrustedDocumentsOptions;
}

/** Seconds a client is told to wait after SERVICE_UNAVAILABLE. */
const RETRY_AFTER_UNAVAILABLE_SECONDS = 5;

const GRAPHIQL_QUERY = `# Mint a token with: npm run token -- --role organizer_admin --tenant northwind-live
# and put it in the Headers tab as shown there.
query FirstLook {
  viewer { sub role tenant purpose }
  events(first: 5) { edges { node { id name startsAt } } }
}
`;

/** The GraphQL gateway as a fetch-style handler; refuses to build on a policy that leaves a personal field unclassified. */
export function createGateway(options: GatewayOptions): YogaServerInstance<Record<string, unknown>, GraphQLContext> {
  const schema = gatewaySchema();
  checkSchemaCoverage(options.policy, schema);
  const logger = options.logger ?? silentLogger;
  const limits = { ...DEFAULT_OPERATION_LIMITS, ...options.limits };
  const timeouts = options.databaseLimits ?? DEFAULT_DATABASE_LIMITS;
  const corsOrigins = options.corsOrigins ?? [];
  if (options.trustedDocuments !== undefined) checkTrustedDocumentRoles(options.trustedDocuments.onlyForRoles, options.policy);
  const { rateLimiter, policy } = options;
  const tenantScoped = (roles: readonly string[]) => roles.some((role) => policy.roles.get(role)?.scope === 'tenant');
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // Yoga's own limit: Content-Length checked before reading, chunked bodies counted as they stream.
    maxRequestBodySize: limits.bodyBytes,
    // Bearer tokens, not cookies: no credentials. Without an allow-list, no CORS headers at all, so
    // browsers keep other origins out (yoga's default would echo any Origin).
    cors: corsOrigins.length === 0 ? false : { origin: [...corsOrigins], credentials: false, methods: ['GET', 'POST'], allowedHeaders: ['authorization', 'content-type', 'x-purpose', 'x-request-id'], exposedHeaders: ['x-request-id', 'retry-after'], maxAge: 600 },
    graphiql: options.production
      ? false
      : {
          title: 'Custodian',
          defaultQuery: GRAPHIQL_QUERY,
          headers: JSON.stringify({ Authorization: 'Bearer <token from npm run token>', 'X-Purpose': 'ticketing' }, null, 2),
          shouldPersistHeaders: true,
        },
    // The field policy is a validation rule that depends on the caller: a validation result cached
    // for one purpose must never answer for another. Parsing may still be cached.
    parserAndValidationCache: { validationCache: false },
    // Unexpected errors reach clients as "Unexpected error." and reach the log as class and code only.
    maskedErrors: { isDev: false },
    logging: {
      debug: () => undefined,
      info: () => undefined,
      warn: (...args: unknown[]) => logger.warn('yoga.warning', { detail: typeof args[0] === 'string' ? args[0].slice(0, 200) : null }),
      error: (...args: unknown[]) => logger.error('yoga.error', args.find((a) => a instanceof Error) ?? args[0]),
    },
    // The caller (and its rate limit) comes first, before the body is parsed; trusted documents
    // need its role and refuse without one; limits run while parsing and validating, so before
    // anything executes; the access log writes inside the request transaction.
    plugins: [
      useSecurityHeaders(),
      ...(options.production ? [useDisableIntrospection(), blockFieldSuggestionsPlugin() as Plugin] : []),
      useCaller({
        verifier: options.verifier,
        policy: options.policy,
        decide: createDecisionCache(options.policy),
        ...(rateLimiter === undefined
          ? {}
          : { admit: (claims) => rateLimiter.admit(claims.sub, tenantScoped(claims.roles) ? claims.tenant : undefined) }),
      }),
      ...(options.trustedDocuments === undefined ? [] : [useTrustedDocuments(options.trustedDocuments)]),
      useOperationLimits(limits),
      useCostLimit({ maxCost: limits.cost }),
      useExpensiveFields({ fields: { 'DataSubject.export': { max: 1, limit: 'export' } } }),
      useFieldPolicy(),
      // Before useRequestTransaction: its write must run inside the request's transaction.
      useAccessLog({ db: options.database.db, policy: options.policy, logger }),
      useRequestTransaction({ db: options.database.db, timeouts }),
      useDatabaseAvailability({ retryAfterSeconds: RETRY_AFTER_UNAVAILABLE_SECONDS, logger }),
      {
        onExecutionResult({ result }) {
          const errors = result !== undefined && 'errors' in result ? result.errors : undefined;
          for (const error of errors ?? []) {
            if (error.extensions?.['code'] === undefined && error.originalError) {
              logger.error('graphql.unexpected_error', error.originalError, describeErrorSafely(error.originalError));
            }
          }
        },
      },
    ],
  });
}

export interface RunningGateway {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serves the gateway over HTTP on host:port (port 0 picks a free port). */
export async function listen(
  gateway: YogaServerInstance<Record<string, unknown>, GraphQLContext>,
  host: string,
  port: number,
): Promise<RunningGateway> {
  const server = createServer(gateway);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}/graphql`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
