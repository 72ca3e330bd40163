import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { withRevocationCheck } from './auth/revocation.js';
import type { TokenVerifier } from './auth/token-verifier.js';
import type { DatabaseHandle } from './db/database.js';
import type { GraphQLContext } from './graphql/context.js';
import { useAccessLog } from './graphql/plugins/use-access-log.js';
import { useCaller } from './graphql/plugins/use-caller.js';
import { useFieldPolicy } from './graphql/plugins/use-field-policy.js';
import { useRequestTransaction } from './graphql/plugins/use-request-transaction.js';
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
}

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
  return createYoga<Record<string, unknown>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
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
    plugins: [
      ...(options.production ? [useDisableIntrospection()] : []),
      useCaller({
        // Containment (breach response): a revoked jti or actor is refused from the next request.
        verifier: withRevocationCheck(options.verifier, options.database.db),
        policy: options.policy,
        decide: createDecisionCache(options.policy),
      }),
      useFieldPolicy(),
      // Before useRequestTransaction: its write must run inside the request's transaction.
      useAccessLog({ db: options.database.db, policy: options.policy, logger }),
      useRequestTransaction({ db: options.database.db }),
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
