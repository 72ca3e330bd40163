import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isDatabaseUnavailable } from '../../db/availability.js';
import { ServiceUnavailableError } from '../../errors.js';
import type { Logger } from '../../logger.js';

/**
 * A request that failed because the database was unreachable, had no connection free in time, or
 * cancelled a statement at its timeout is answered 503 SERVICE_UNAVAILABLE with Retry-After, as
 * a whole (no partial data), never 200 with "Unexpected error.". It looks at the result once
 * every execute wrapper (access log, request transaction) has finished, and before yoga masks
 * errors, so its place among the plugins does not matter; a commit that fails the same way is
 * answered by useRequestTransaction.
 */
export function useDatabaseAvailability(options: { retryAfterSeconds: number; logger: Logger }): Plugin {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (Symbol.asyncIterator in result) return;
          if (!((result as ExecutionResult).errors ?? []).some((error) => isDatabaseUnavailable(error.originalError))) return;
          options.logger.warn('database.unavailable');
          setResult({ errors: [new ServiceUnavailableError(options.retryAfterSeconds)] });
        },
      };
    },
  };
}
