import { context, trace } from '@opentelemetry/api';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import type { TokenVerifier } from '../auth/token-verifier.js';
import { resolvedCallerOf } from '../graphql/plugins/use-caller.js';
import { inSpan, markFailed, tracer } from './tracing.js';

const KNOWN_PATHS = new Set(['/graphql', '/healthz', '/readyz', '/metrics']);

/**
 * The request's root span, opened around the whole HTTP exchange and made active, so every span
 * below (verification, policy, execution, SQL, the access-log write) is its child across awaits.
 * The route is a fixed path or "other": a query string or an unknown path is never recorded.
 */
export function tracedRequestListener(listener: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const route = KNOWN_PATHS.has(path) ? path : 'other';
    const span = tracer().startSpan(`${req.method ?? 'HTTP'} ${route}`, {
      attributes: { 'http.request.method': req.method ?? '', 'http.route': route },
    });
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      span.end();
    });
    return context.with(trace.setSpan(context.active(), span), () => listener(req, res));
  };
}

/** Token verification in a span of its own (the result: verified or the refusal's code). */
export function tracedVerifier(verifier: TokenVerifier): TokenVerifier {
  return { verify: (token) => inSpan('auth.verify', {}, () => verifier.verify(token)) };
}

/**
 * A span for the policy (validation, where the field policy refuses an operation), labelled with
 * the caller's role and purpose: names from the policy, never a person or a value. Registered
 * before useFieldPolicy, whose refusal is thrown after validation, so this span always ends.
 */
export function useValidationTracing(): Plugin {
  return {
    onValidate({ context: yogaContext }) {
      const request = (yogaContext as { request?: Request }).request;
      const caller = request === undefined ? undefined : resolvedCallerOf(request)?.caller;
      const span = tracer().startSpan('policy.validate', {
        attributes: caller === undefined ? {} : { 'custodian.role': caller.role, 'custodian.purpose': caller.purpose },
      });
      return ({ valid }) => {
        span.setAttribute('custodian.valid', valid);
        span.end();
      };
    },
  };
}

/**
 * A span for execution, active while it runs so the resolvers' SQL, the access-log write and the
 * commit are its children. Registered after useAccessLog and useRequestTransaction, so that it
 * wraps their work too.
 */
export function useExecutionTracing(): Plugin {
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn((args) =>
        tracer().startActiveSpan('graphql.execute', async (span) => {
          try {
            return await executeFn(args);
          } catch (error) {
            markFailed(span, error);
            throw error;
          } finally {
            span.end();
          }
        }),
      );
    },
  };
}
