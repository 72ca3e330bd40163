import type { Kysely } from 'kysely';
import type { Plugin } from 'graphql-yoga';
import { isDatabaseUnavailable } from '../../db/availability.js';
import type { TransactionTimeouts } from '../../db/request-scope.js';
import { ServiceUnavailableError } from '../../errors.js';
import { RequestTransaction } from '../../db/request-transaction.js';
import type { Database } from '../../db/tables.js';
import type { GraphQLContext } from '../context.js';
import { RequestLoaders } from '../loaders.js';
import { callerOf } from './use-caller.js';

/**
 * Each operation runs in one database transaction scoped to the caller (tenant, platform or
 * person), opened on the first read and committed once execution has produced its result.
 */
export function useRequestTransaction(options: { db: Kysely<Database>; timeouts?: TransactionTimeouts }): Plugin<{ data: RequestLoaders }> {
  return {
    onContextBuilding({ context, extendContext }) {
      const { caller } = callerOf(context.request);
      const transaction = new RequestTransaction(options.db, caller.scope, caller.purpose, options.timeouts);
      extendContext({ data: new RequestLoaders(transaction) });
    },
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(async (args) => {
        const { data } = args.contextValue as GraphQLContext;
        let result: Awaited<ReturnType<typeof executeFn>>;
        try {
          result = await executeFn(args);
        } catch (error) {
          await data.transaction.finish('rollback').catch(() => undefined);
          throw error;
        }
        try {
          await data.transaction.finish('commit');
        } catch (error) {
          // The database went away before the commit: nothing was committed, and the caller is
          // told to come back (503), not handed an unexpected error.
          if (isDatabaseUnavailable(error)) return { errors: [new ServiceUnavailableError()] };
          throw error;
        }
        return result;
      });
    },
  };
}
