import type { DefinitionNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AccessDecision } from '../../policy/access-decision.js';
import type { GraphQLContext } from '../context.js';
import { introspects, schemaForDecision } from '../schema-for-purpose.js';

/**
 * Introspection answers from the caller's own schema (schemaForDecision): a verified caller sees
 * the fields its purpose may read and nothing else. Introspection reads no personal data, so it
 * leaves no access-log entry. Where introspection is off (production), yoga's
 * useDisableIntrospection refuses it at validation, before this runs.
 */
export function useCallerSchema(): Plugin {
  const schemas = new WeakMap<AccessDecision, GraphQLSchema>();
  const schemaFor = (full: GraphQLSchema, decision: AccessDecision): GraphQLSchema => {
    let schema = schemas.get(decision);
    if (schema === undefined) schemas.set(decision, (schema = schemaForDecision(full, decision)));
    return schema;
  };
  return {
    onExecute({ args, setExecuteFn, executeFn }) {
      const operation = args.document.definitions.find(
        (d: DefinitionNode): d is OperationDefinitionNode =>
          d.kind === 'OperationDefinition' && (args.operationName == null || d.name?.value === args.operationName),
      );
      if (operation === undefined || !introspects(operation)) return;
      const { decision } = args.contextValue as GraphQLContext;
      const schema = schemaFor(args.schema, decision);
      setExecuteFn((execution) => executeFn({ ...execution, schema }));
    },
  };
}
