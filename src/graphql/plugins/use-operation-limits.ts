import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { Plugin } from 'graphql-yoga';
import type { OperationLimits } from '../../config.js';
import { QueryTooComplexError, type OperationLimitName } from '../../errors.js';

/**
 * Refuses, before execution, an operation over the depth, alias, token or directive limit with
 * QUERY_TOO_COMPLEX (400) naming the limit. GraphQL Armor does the counting (tokens while
 * parsing, so a huge document stops at the first token over; the rest as validation rules that
 * follow fragments); each rejection is turned into our typed error instead of Armor's message.
 */
export function useOperationLimits(limits: Pick<OperationLimits, 'depth' | 'aliases' | 'tokens' | 'directives'>): Plugin {
  const refuse = (limit: OperationLimitName, max: number) => ({
    propagateOnRejection: false,
    onReject: [
      () => {
        throw new QueryTooComplexError(limit, max);
      },
    ],
  });
  const plugins: Plugin[] = [
    maxTokensPlugin({ n: limits.tokens, ...refuse('tokens', limits.tokens) }) as Plugin,
    maxDepthPlugin({ n: limits.depth, ignoreIntrospection: true, flattenFragments: true, ...refuse('depth', limits.depth) }) as Plugin,
    maxAliasesPlugin({ n: limits.aliases, ...refuse('aliases', limits.aliases) }) as Plugin,
    maxDirectivesPlugin({ n: limits.directives, ...refuse('directives', limits.directives) }) as Plugin,
  ];
  return {
    onPluginInit({ addPlugin }) {
      for (const plugin of plugins) addPlugin(plugin);
    },
  };
}
