import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitConfig } from '../config.js';
import { ConfigurationError, RateLimitedError } from '../errors.js';

const WINDOW_SECONDS = 60;

/** Per-caller request budgets: one per token subject, one per tenant. */
export interface CallerRateLimiter {
  readonly store: RateLimitConfig['store'];
  /** Counts one request of this caller; throws RateLimitedError (429, Retry-After) when over budget. */
  admit(subject: string, tenant: string | undefined): Promise<void>;
  close(): Promise<void>;
}

/** Stored keys never hold the identifier itself: a subject can be a person id. */
const keyOf = (kind: string, value: string): string => createHash('sha256').update(`${kind}\u0000${value}`).digest('hex');

interface Store {
  limiter(name: string, points: number): RateLimiterAbstract;
  close(): Promise<void>;
}

function memoryStore(): Store {
  return { limiter: (name, points) => new RateLimiterMemory({ keyPrefix: name, points, duration: WINDOW_SECONDS }), close: async () => undefined };
}

/**
 * Shared stores keep one budget across gateway processes. If the store cannot answer, each
 * process falls back to its own in-memory budget (the insurance limiter) rather than either
 * refusing everyone or admitting everyone.
 */
function postgresStore(url: string): Store {
  // Its own small pool: a request pool exhausted by slow reads must not stop the limiter from
  // answering, and the limiter must not take connections from requests.
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 2_000, statement_timeout: 2_000 });
  pool.on('error', () => undefined);
  return {
    limiter: (name, points) =>
      new RateLimiterPostgres({
        storeClient: pool,
        storeType: 'pool',
        tableName: 'rate_limits',
        tableCreated: true,
        keyPrefix: name,
        points,
        duration: WINDOW_SECONDS,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points, duration: WINDOW_SECONDS }),
      }),
    close: () => pool.end(),
  };
}

async function redisStore(url: string): Promise<Store> {
  // rate-limiter-flexible's advice: no offline queue, so a lost Redis fails fast to the insurance limiter.
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true, connectTimeout: 5_000 });
  client.on('error', () => undefined);
  try {
    // Start only once Redis answers: a gateway that silently counted per process would not limit
    // what several processes let through.
    await client.connect();
  } catch {
    client.disconnect();
    throw new ConfigurationError('REDIS_URL is set but Redis does not answer; the rate-limit store is unavailable.');
  }
  return {
    limiter: (name, points) =>
      new RateLimiterRedis({
        storeClient: client,
        keyPrefix: `custodian-${name}`,
        points,
        duration: WINDOW_SECONDS,
        insuranceLimiter: new RateLimiterMemory({ keyPrefix: name, points, duration: WINDOW_SECONDS }),
      }),
    close: async () => {
      client.disconnect();
    },
  };
}

/**
 * Fixed one-minute budgets from rate-limiter-flexible (memory, PostgreSQL or Redis store). A
 * request spends one point of its subject's budget and, for a caller with a tenant, one of that
 * tenant's; a budget of 0 is off.
 */
export async function createCallerRateLimiter(config: RateLimitConfig, databaseUrl: string | undefined): Promise<CallerRateLimiter> {
  const store =
    config.store === 'redis' ? await redisStore(config.redisUrl!) : config.store === 'postgres' ? postgresStore(databaseUrl!) : memoryStore();
  const subjects = config.subjectPerMinute > 0 ? store.limiter('subject', config.subjectPerMinute) : undefined;
  const tenants = config.tenantPerMinute > 0 ? store.limiter('tenant', config.tenantPerMinute) : undefined;
  const spend = async (limiter: RateLimiterAbstract | undefined, key: string, scope: 'subject' | 'tenant'): Promise<void> => {
    if (limiter === undefined) return;
    try {
      await limiter.consume(key);
    } catch (refusal) {
      if (refusal instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)), scope);
      throw refusal;
    }
  };
  return {
    store: config.store,
    async admit(subject, tenant) {
      await spend(subjects, keyOf('subject', subject), 'subject');
      if (tenant !== undefined) await spend(tenants, keyOf('tenant', tenant), 'tenant');
    },
    close: () => store.close(),
  };
}
