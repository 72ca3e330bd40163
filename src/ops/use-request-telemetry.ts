import type { DefinitionNode, ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { resolvedCallerOf, verifiedClaimsOf } from '../graphql/plugins/use-caller.js';
import type { Logger } from '../logger.js';
import { HEALTH_PATHS } from './use-health.js';
import type { GatewayMetrics, RequestOutcome } from './metrics.js';

export interface RequestTelemetryOptions {
  metrics: GatewayMetrics | undefined;
  /** One line per request; undefined logs nothing (tests that do not look). */
  logger: Logger | undefined;
}

interface Observed {
  startedAt: bigint;
  operationName: string | null;
  code: string | null;
  hasErrors: boolean;
  hasData: boolean;
}

// A GraphQL Name: an operation name can only be this, so it cannot carry a value into the log.
const NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;
const OPS_PATHS = new Set<string>(Object.values(HEALTH_PATHS));

function firstCode(errors: readonly GraphQLError[] | undefined): string | null {
  if (errors === undefined || errors.length === 0) return null;
  const code = errors[0]?.extensions?.['code'];
  return typeof code === 'string' ? code : 'UNEXPECTED';
}

function outcomeOf(status: number, observed: Observed): RequestOutcome {
  if (status >= 500) return 'error';
  if (status >= 400) return 'refused';
  if (observed.hasErrors) return observed.hasData ? 'partial' : observed.code === 'UNEXPECTED' ? 'error' : 'refused';
  return 'ok';
}

/**
 * Observes every GraphQL request once it is answered: one structured log line (request id, role,
 * purpose, tenant, operation name, outcome, code, status, duration; never a variable, argument or
 * value) and the Prometheus request, refusal and latency metrics. Runs after useAccessLog, whose
 * onResponse sets the X-Request-Id this line carries.
 */
export function useRequestTelemetry(options: RequestTelemetryOptions): Plugin {
  const observed = new WeakMap<Request, Observed>();
  return {
    onRequest({ request, url }) {
      if (OPS_PATHS.has(url.pathname)) return;
      observed.set(request, { startedAt: process.hrtime.bigint(), operationName: null, code: null, hasErrors: false, hasData: false });
    },
    onParams({ request, params }) {
      const entry = observed.get(request);
      if (entry !== undefined && typeof params.operationName === 'string' && NAME.test(params.operationName)) entry.operationName = params.operationName;
    },
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      const entry = request === undefined ? undefined : observed.get(request);
      if (entry === undefined || entry.operationName !== null) return;
      const operation = args.document.definitions.find((d: DefinitionNode) => d.kind === 'OperationDefinition');
      if (operation?.kind === 'OperationDefinition' && operation.name !== undefined) entry.operationName = operation.name.value;
    },
    onResultProcess({ request, result }) {
      const entry = observed.get(request);
      if (entry === undefined || Array.isArray(result) || Symbol.asyncIterator in result) return;
      const single = result as ExecutionResult;
      entry.code = firstCode(single.errors);
      entry.hasErrors = (single.errors?.length ?? 0) > 0;
      entry.hasData = single.data !== undefined && single.data !== null;
    },
    onResponse({ request, response }) {
      const entry = observed.get(request);
      // The GraphiQL page is not a GraphQL request.
      if (entry === undefined || response.headers.get('content-type')?.startsWith('text/html')) return;
      const seconds = Number(process.hrtime.bigint() - entry.startedAt) / 1e9;
      const outcome = outcomeOf(response.status, entry);
      const caller = resolvedCallerOf(request)?.caller;
      const claims = verifiedClaimsOf(request);
      const role = caller?.role ?? null;
      const purpose = caller?.purpose ?? null;
      options.metrics?.observeRequest({ outcome, role, purpose, code: entry.code, seconds });
      options.logger?.info('request', {
        // The gateway's own id (as in the access log), and the caller's X-Request-Id beside it.
        requestId: response.headers.get('x-request-id'),
        correlationId: response.headers.get('x-correlation-id'),
        method: request.method,
        role,
        purpose,
        tenant: caller?.tenantId ?? claims?.tenant ?? null,
        operation: entry.operationName,
        outcome,
        code: entry.code,
        status: response.status,
        durationMs: Math.round(seconds * 10_000) / 10,
      });
    },
  };
}
