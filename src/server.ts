import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { withRevocationCheck } from './auth/revocation.js';
import type { TokenVerifier } from './auth/token-verifier.js';
import type { DatabaseHandle } from './db/database.js';
import type { GraphQLContext } from './graphql/context.js';
import { ConfigurationError } from './errors.js';
import { DEFAULT_DATABASE_LIMITS, DEFAULT_OPERATION_LIMITS, type DatabaseLimits, type OperationLimits } from './config.js';
import { useAccessLog } from './graphql/plugins/use-access-log.js';
import { useCallerSchema } from './graphql/plugins/use-caller-schema.js';
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
import { trackInFlight } from './ops/graceful-shutdown.js';
import { GatewayMetrics } from './ops/metrics.js';
import { createReadiness, databaseReadiness, type Readiness } from './ops/readiness.js';
import { traceQuery } from './ops/tracing.js';
import { useHealth } from './ops/use-health.js';
import { useRequestTelemetry } from './ops/use-request-telemetry.js';
import { tracedRequestListener, tracedVerifier, useExecutionTracing, useValidationTracing } from './ops/use-tracing.js';

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
  /** Operations: health, readiness, metrics and the per-request log line (defaults: see gatewayOps). */
  ops?: GatewayOps;
}

export interface GatewayOps {
  /** Prometheus metrics; one is made when absent. */
  metrics?: GatewayMetrics;
  /** /readyz; defaults to "the database answers and is migrated". */
  readiness?: Readiness;
  /** false when METRICS_PORT serves /metrics elsewhere. */
  metricsOnGatewayPort?: boolean;
  /** One log line per request goes here (undefined: none). */
  requestLogger?: Logger;
}

/** Seconds a client is told to wait after SERVICE_UNAVAILABLE. */
const RETRY_AFTER_UNAVAILABLE_SECONDS = 5;

export const GRAPHIQL_QUERY = `# Custodian. Mint a token in a terminal:
#   npm run -s token -- --role organizer_admin --tenant northwind-live
# and paste it into the Headers tab below in place of <token>. The explorer (Docs) and
# autocomplete then show the fields this token's purpose may read.
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
  const metrics = options.ops?.metrics ?? new GatewayMetrics(options.policy);
  const readiness = options.ops?.readiness ?? createReadiness([databaseReadiness(options.database.db)]);
  if (options.database.pool !== undefined) metrics.watchPool('app', options.database.pool);
  options.database.queryListeners.add((event) => {
    if (event.level === 'query' && /^insert into "access_log"/.test(event.query.sql)) metrics.observeAccessLogWrite(event.queryDurationMillis / 1000);
    traceQuery(event);
  });
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
          defaultHeaders: GRAPHIQL_HEADERS,
          headers: GRAPHIQL_HEADERS,
          shouldPersistHeaders: true,
        },
    // GraphiQL's scripts and styles come inlined from the installed @graphql-yoga/render-graphiql,
    // not from a CDN: the page works on a machine without internet.
    renderGraphiQL,
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
      // First: health checks and metrics scrapes answer before anything GraphQL runs.
      useHealth({ readiness, metrics: options.ops?.metricsOnGatewayPort === false ? undefined : metrics }),
      useSecurityHeaders(),
      ...(options.production ? [useDisableIntrospection(), blockFieldSuggestionsPlugin() as Plugin] : []),
      useValidationTracing(),
      useCaller({
        // Containment (breach response): a revoked jti or actor is refused from the next request.
        verifier: tracedVerifier(withRevocationCheck(options.verifier, options.database.db)),
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
      // After the plugins that wrap execution: its span covers the access-log write and commit.
      useExecutionTracing(),
      // After the plugins that wrap execution: introspection runs on the caller's own schema.
      useCallerSchema(),
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
      // Last: its onResponse reads the X-Request-Id useAccessLog sets.
      useRequestTelemetry({ metrics, logger: options.ops?.requestLogger }),
    ],
  });
}

const GRAPHIQL_HEADERS = JSON.stringify({ Authorization: 'Bearer <token>', 'X-Purpose': 'ticketing' }, null, 2);

export interface RunningGateway {
  url: string;
  server: Server;
  /** Closes every connection at once (tests). */
  close(): Promise<void>;
  /** Stops accepting, lets requests in flight finish for up to `timeoutMs`, then closes the rest. */
  drain(timeoutMs: number): Promise<{ abandoned: number }>;
  /** Requests received and not yet answered. */
  inFlight(): number;
}

const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the port is already in use',
  EADDRNOTAVAIL: 'that address is not one of this machine\'s',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name could not be resolved',
  EAFNOSUPPORT: 'that address family is not supported here',
};

/** Serves the gateway over HTTP on host:port (port 0 picks a free port). */
export async function listen(
  gateway: YogaServerInstance<Record<string, unknown>, GraphQLContext>,
  host: string,
  port: number,
): Promise<RunningGateway> {
  const server = createServer(tracedRequestListener(gateway));
  const inFlight = trackInFlight(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const why = LISTEN_FAILURES[error.code ?? ''];
      reject(why === undefined ? error : new ConfigurationError(`Cannot listen on HOST "${host}", PORT ${port}: ${why} (${error.code}).`));
    });
    try {
      server.listen(port, host, () => resolve());
    } catch (error) {
      // node throws synchronously for some malformed hosts.
      reject(new ConfigurationError(`Cannot listen on HOST "${host}", PORT ${port}: ${(error as Error).message.split('\n')[0]}`));
    }
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
    drain: (timeoutMs) => inFlight.drain(timeoutMs),
    inFlight: () => inFlight.inFlight,
  };
}
