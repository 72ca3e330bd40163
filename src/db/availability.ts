import type { DatabaseConnection, Dialect, Driver } from 'kysely';

/** No connection came free within the bounded wait (the embedded database's single connection). */
export class ConnectionWaitTimeoutError extends Error {
  readonly code = 'CONNECTION_WAIT_TIMEOUT';
  constructor(waitedMs: number) {
    super(`No database connection came free within ${waitedMs} ms.`);
  }
}

// SQLSTATE classes and codes that mean the database cannot serve now, not that the request is wrong:
// connection exceptions, insufficient resources, operator intervention (shutdown, statement and
// idle-in-transaction timeouts, cancelled queries).
const UNAVAILABLE_SQLSTATE = /^(08...|53...|57P0[1-4]|57014|25P03)$/;
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);
const UNAVAILABLE_MESSAGE = /timeout exceeded when trying to connect|Connection terminated|not queryable|connection is closed|PGlite is closed|Cannot use a pool after calling end/i;

/**
 * Whether an error (or what caused it) says the database is unreachable, overloaded or too slow:
 * such a request is answered 503 SERVICE_UNAVAILABLE, never 200 with an unexpected error.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (!(error instanceof Error) || depth > 5) return false;
  if (error instanceof ConnectionWaitTimeoutError) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) return true;
  if (UNAVAILABLE_MESSAGE.test(error.message)) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  const inner = (error as { originalError?: unknown }).originalError ?? error.cause;
  return isDatabaseUnavailable(inner, depth + 1);
}

async function acquireWithin(driver: Driver, timeoutMs: number): Promise<DatabaseConnection> {
  const pending = driver.acquireConnection();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ConnectionWaitTimeoutError(timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([pending, timeout]);
  } catch (error) {
    // The connection may still come later: hand it straight back rather than leak it.
    if (error instanceof ConnectionWaitTimeoutError) pending.then((connection) => driver.releaseConnection(connection), () => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A dialect whose connection wait is bounded: node-postgres bounds its own (connectionTimeoutMillis);
 * the embedded database's driver queues forever, so its wait is bounded here.
 */
export function withBoundedConnectionWait(dialect: Dialect, timeoutMs: number): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createIntrospector: (db) => dialect.createIntrospector(db),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createDriver: () => {
      const driver = dialect.createDriver();
      return new Proxy(driver, {
        get(target, property) {
          if (property === 'acquireConnection') return () => acquireWithin(target, timeoutMs);
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
        },
      });
    },
  };
}
