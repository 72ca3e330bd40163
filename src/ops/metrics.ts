import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Policy } from '../policy/policy.js';

/** What a pg pool tells about its clients (node-postgres' Pool has these counters). */
export interface PoolStats {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

/** How a request ended, for the request counter and the per-request log line. */
export type RequestOutcome = 'ok' | 'partial' | 'refused' | 'error';

export interface RequestObservation {
  outcome: RequestOutcome;
  role: string | null;
  purpose: string | null;
  code: string | null;
  seconds: number;
}

/**
 * The gateway's Prometheus metrics (prom-client, one registry per gateway so tests and several
 * gateways in one process never share counters). Labels come from closed sets only: the policy's
 * role and purpose names, the project's error codes, and fixed outcomes. Nothing a caller types
 * (ids, operation names, values) becomes a label, so no personal data can reach /metrics.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #roles: ReadonlySet<string>;
  readonly #purposes: ReadonlySet<string>;
  readonly #requests: Counter<'outcome' | 'role' | 'purpose'>;
  readonly #refusals: Counter<'code'>;
  readonly #duration: Histogram<'outcome'>;
  readonly #accessLogWrite: Histogram;
  readonly #pools: { name: string; stats: PoolStats }[] = [];

  constructor(policy: Pick<Policy, 'roles' | 'purposes'>, options: { processMetrics?: boolean } = {}) {
    this.#roles = new Set(policy.roles.keys());
    this.#purposes = new Set(policy.purposes.keys());
    const registers = [this.registry];
    this.#requests = new Counter({
      name: 'custodian_requests_total',
      help: 'GraphQL requests by outcome (ok, partial, refused, error), role and declared purpose.',
      labelNames: ['outcome', 'role', 'purpose'],
      registers,
    });
    this.#refusals = new Counter({
      name: 'custodian_refusals_total',
      help: 'Requests answered with an error, by the first error code.',
      labelNames: ['code'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'custodian_request_duration_seconds',
      help: 'GraphQL request latency, from arrival to response.',
      labelNames: ['outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#accessLogWrite = new Histogram({
      name: 'custodian_access_log_write_seconds',
      help: 'Latency of the access-log INSERT each request that reads personal data makes.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });
    const pools = this.#pools;
    const poolGauge = (name: string, help: string, read: (stats: PoolStats) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers,
        collect() {
          this.reset();
          for (const pool of pools) this.set({ pool: pool.name }, read(pool.stats));
        },
      });
    poolGauge('custodian_db_pool_connections', 'Connections the database pool holds.', (s) => s.totalCount);
    poolGauge('custodian_db_pool_idle_connections', 'Idle connections in the database pool.', (s) => s.idleCount);
    poolGauge('custodian_db_pool_waiting_requests', 'Queries waiting for a free pool connection.', (s) => s.waitingCount);
    if (options.processMetrics ?? false) collectDefaultMetrics({ register: this.registry, prefix: 'custodian_' });
  }

  /** A pool whose use /metrics reports (node-postgres; the embedded database has none). */
  watchPool(name: string, stats: PoolStats): void {
    this.#pools.push({ name, stats });
  }

  observeRequest(observation: RequestObservation): void {
    const role = observation.role !== null && this.#roles.has(observation.role) ? observation.role : 'none';
    const purpose = observation.purpose !== null && this.#purposes.has(observation.purpose) ? observation.purpose : 'none';
    this.#requests.inc({ outcome: observation.outcome, role, purpose });
    this.#duration.observe({ outcome: observation.outcome }, observation.seconds);
    if (observation.code !== null) this.#refusals.inc({ code: safeCode(observation.code) });
  }

  observeAccessLogWrite(seconds: number): void {
    this.#accessLogWrite.observe(seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Error codes are the project's and yoga's constants; anything else is folded into OTHER. */
function safeCode(code: string): string {
  return /^[A-Z][A-Z_]{0,39}$/.test(code) ? code : 'OTHER';
}
