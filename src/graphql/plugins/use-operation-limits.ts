import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import { parse, type DocumentNode, type ParseOptions, type Source } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { OperationLimits } from '../../config.js';
import { QueryTooComplexError, type OperationLimitName } from '../../errors.js';

/**
 * Refuses, before execution, an operation over the depth, alias, token or directive limit with
 * QUERY_TOO_COMPLEX (400) naming the limit. GraphQL Armor does the counting (tokens while
 * parsing, so a huge document stops at the first token over; the rest as validation rules that
 * follow fragments); each rejection becomes our typed error instead of Armor's message.
 *
 * The token refusal is raised at validation, not from the parser: yoga marks every parse error
 * as a spec error and answers it 200 to `Accept: application/json` clients, and CONTRACT.md says
 * 400. The parser hands back a placeholder document that stands for the refusal (also when
 * yoga's parse cache returns it for the same text later), and validation throws the refusal.
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
  const refusedDocuments = new WeakMap<DocumentNode, QueryTooComplexError>();
  const parseWithTokenLimit = (source: string | Source, options?: ParseOptions): DocumentNode => {
    try {
      return new MaxTokensParserWLexer(source, { ...options, n: limits.tokens, ...refuse('tokens', limits.tokens) }).parseDocument();
    } catch (error) {
      if (!(error instanceof QueryTooComplexError)) throw error;
      const placeholder = parse('{ __typename }');
      refusedDocuments.set(placeholder, error);
      return placeholder;
    }
  };
  const rules: Plugin[] = [
    maxDepthPlugin({ n: limits.depth, ignoreIntrospection: true, flattenFragments: true, ...refuse('depth', limits.depth) }) as Plugin,
    maxAliasesPlugin({ n: limits.aliases, ...refuse('aliases', limits.aliases) }) as Plugin,
    maxDirectivesPlugin({ n: limits.directives, ...refuse('directives', limits.directives) }) as Plugin,
  ];
  return {
    onPluginInit({ addPlugin }) {
      for (const plugin of rules) addPlugin(plugin);
    },
    onParse({ setParseFn }) {
      setParseFn(parseWithTokenLimit);
    },
    onValidate({ params }) {
      const refusal = refusedDocuments.get(params.documentAST);
      if (refusal !== undefined) throw refusal;
    },
  };
}
