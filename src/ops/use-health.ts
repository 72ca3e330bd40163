import type { Plugin } from 'graphql-yoga';
import type { GatewayMetrics } from './metrics.js';
import type { Readiness } from './readiness.js';

export const HEALTH_PATHS = { alive: '/healthz', ready: '/readyz', metrics: '/metrics' } as const;

export interface HealthOptions {
  readiness: Readiness;
  /** Served here unless METRICS_PORT moves it to a port of its own. */
  metrics: GatewayMetrics | undefined;
}

const json = (body: unknown, status: number) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });

/** Answers a metrics scrape (also used by the separate METRICS_PORT server). */
export async function metricsResponse(metrics: GatewayMetrics): Promise<Response> {
  const { contentType, body } = await metrics.render();
  return new Response(body, { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' } });
}

/**
 * CONTRACT.md's operations endpoints, answered before anything GraphQL runs (no token needed:
 * they reveal no data): /healthz while the process runs, /readyz with every reason it is not
 * ready (503), /metrics in Prometheus' text format.
 */
export function useHealth(options: HealthOptions): Plugin {
  return {
    async onRequest({ url, request, endResponse }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      if (url.pathname === HEALTH_PATHS.alive) return endResponse(json({ status: 'ok' }, 200));
      if (url.pathname === HEALTH_PATHS.ready) {
        const reasons = await options.readiness.reasons();
        return endResponse(reasons.length === 0 ? json({ status: 'ready' }, 200) : json({ status: 'not ready', reasons }, 503));
      }
      if (url.pathname === HEALTH_PATHS.metrics && options.metrics !== undefined) return endResponse(await metricsResponse(options.metrics));
    },
  };
}
