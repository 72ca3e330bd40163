import type { ExecutionArgs, ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isDatabaseUnavailable } from '../../db/availability.js';
import { ServiceUnavailableError } from '../../errors.js';
import type { Logger } from '../../logger.js';

/**
 * A request that failed because the database was unreachable, had no connection free in time, or
 * cancelled a statement at its timeout is answered 503 SERVICE_UNAVAILABLE with Retry-After, as
 * a whole (no partial data), never 200 with "Unexpected error.". Must come after
 * useRequestTransaction so that it wraps the commit too (server.ts; tests/plugin-order.test.ts).
 */
export function useDatabaseAvailability(options: { retryAfterSeconds: number; logger: Logger }): Plugin {
  const unavailable = (): ExecutionResult => {
    options.logger.warn('database.unavailable');
    return { errors: [new ServiceUnavailableError(options.retryAfterSeconds)] };
  };
  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args: ExecutionArgs) => {
        let result: ExecutionResult;
        try {
          result = (await executeFn(args)) as ExecutionResult;
        } catch (error) {
          if (isDatabaseUnavailable(error)) return unavailable();
          throw error;
        }
        if (Symbol.asyncIterator in result) return result;
        if (result.errors?.some((error) => isDatabaseUnavailable(error.originalError))) return unavailable();
        return result;
      });
    },
  };
}
