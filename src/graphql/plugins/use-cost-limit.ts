import { createRequire } from 'node:module';
import { getNullableType, GraphQLError, isListType, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { ComplexityEstimator, getComplexity as GetComplexity } from 'graphql-query-complexity';
import { QueryTooComplexError } from '../../errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../pagination.js';

// The library's ESM build imports graphql's .mjs files, a second graphql realm next to the CommonJS
// one Node (and Pothos) use, and the two refuse each other's types; its CommonJS build shares ours.
const { getComplexity } = createRequire(import.meta.url)('graphql-query-complexity') as { getComplexity: typeof GetComplexity };

/** What an unpaged list (an attendee's orders, an order's tickets, relationships) is assumed to hold. */
export const UNPAGED_LIST_SIZE = 10;

/**
 * Every field costs 1 plus what it selects; a list multiplies what it selects by its size: the
 * `first` it asks for (capped as the resolvers cap it), or UNPAGED_LIST_SIZE for lists without
 * paging. A connection's `edges` are counted once, at the connection field that took `first`.
 */
export const listSizeEstimator: ComplexityEstimator = ({ type, field, args, childComplexity }) => {
  if (field.args.some((argument) => argument.name === 'first')) {
    const first = typeof args['first'] === 'number' ? Math.min(Math.max(args['first'], 0), MAX_PAGE_SIZE) : DEFAULT_PAGE_SIZE;
    return 1 + first * childComplexity;
  }
  if (isListType(getNullableType(field.type))) {
    if (field.name === 'edges' && type.name.endsWith('Connection')) return 1 + childComplexity;
    return 1 + UNPAGED_LIST_SIZE * childComplexity;
  }
  return 1 + childComplexity;
};

/** The operation's estimated cost; Infinity when the document is too large to estimate. */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined,
): number {
  try {
    return getComplexity({ schema, query: document, variables: variables ?? {}, operationName, estimators: [listSizeEstimator] });
  } catch (error) {
    // A document with too many nodes to evaluate is over any cost. Variables that do not coerce
    // are refused by execution before any resolver runs. Anything else fails closed.
    if (error instanceof Error && /number of nodes/i.test(error.message)) return Number.POSITIVE_INFINITY;
    if (error instanceof GraphQLError && /^Variable "\$/.test(error.message)) return 0;
    throw error;
  }
}

/**
 * Refuses, after validation and before execution, an operation whose estimated cost is over
 * `maxCost` (QUERY_TOO_COMPLEX, limit "cost"): `attendees(first: 500)` nested through
 * relationships multiplies out long before it reaches the database.
 */
export function useCostLimit(options: { maxCost: number }): Plugin {
  return {
    onValidate({ params, context }) {
      const request = context as { params?: { variables?: Record<string, unknown>; operationName?: string } };
      return ({ valid }) => {
        if (!valid) return;
        const cost = operationCost(params.schema, params.documentAST, request.params?.variables, request.params?.operationName);
        if (cost > options.maxCost) throw new QueryTooComplexError('cost', options.maxCost);
      };
    },
  };
}
