import { context, trace, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { LogEvent } from 'kysely';

/**
 * OpenTelemetry traces, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the
 * exporter reads the standard OTEL_* variables itself). Without it the API's tracer is a no-op,
 * so the spans below cost next to nothing. Attributes are names, codes and counts: never an id
 * a caller sent, an argument, a value or SQL parameters.
 */
export interface Tracing {
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function startTracing(endpoint: string | undefined, serviceName = 'custodian'): Tracing | undefined {
  if (endpoint === undefined) return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': process.env.OTEL_SERVICE_NAME?.trim() || serviceName }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  // Registers the provider and the AsyncLocalStorage context manager: spans started while a
  // request's span is active become its children across awaits.
  provider.register();
  return {
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

export function tracer(): Tracer {
  return trace.getTracer('custodian');
}

/** Runs `work` inside a span; a thrown error marks the span (class and code only) and is rethrown. */
export async function inSpan<T>(name: string, attributes: Attributes, work: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await work(span);
    } catch (error) {
      markFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

export function markFailed(span: Span, error: unknown): void {
  const code = (error as { code?: unknown })?.code;
  span.setStatus({ code: SpanStatusCode.ERROR, message: typeof code === 'string' ? code : error instanceof Error ? error.constructor.name : 'error' });
}

// Statements the gateway tags or writes for the access log; see db/statement-counter.ts.
const ACCESS_LOG_WRITE = /^(insert into "access_log")/;

/**
 * One span per SQL statement, from Kysely's query log (it works the same for node-postgres and
 * PGlite). Kysely reports a statement once it finished, so the span is back-dated by its
 * duration. Only the statement's verb is recorded: the text may name tables, never values.
 */
export function traceQuery(event: LogEvent): void {
  if (trace.getSpan(context.active()) === undefined) return;
  const verb = /^\s*(?:\/\*.*?\*\/\s*)?(\w+)/s.exec(event.query.sql)?.[1]?.toLowerCase() ?? 'sql';
  const accessLog = ACCESS_LOG_WRITE.test(event.query.sql);
  const end = Date.now();
  const span = tracer().startSpan(accessLog ? 'access_log.write' : `sql ${verb}`, {
    startTime: end - event.queryDurationMillis,
    attributes: { 'db.system': 'postgresql', 'db.operation': verb },
  });
  if (event.level === 'error') markFailed(span, event.error);
  span.end(end);
}
