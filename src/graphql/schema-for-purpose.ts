import { isInterfaceType, type GraphQLFieldConfig, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { MapperKind, mapSchema, pruneSchema } from '@graphql-tools/utils';
import type { AccessDecision } from '../policy/access-decision.js';

/**
 * The schema as one role and purpose may use it: only the fields (and classified arguments) the
 * decision lets it read, and the types still reachable through them. Introspection answers from
 * it, so GraphiQL's explorer and autocomplete show each caller its own API (as Hasura shows each
 * role its own schema), and a field a purpose may not read is not even named to it.
 */
export function schemaForDecision(schema: GraphQLSchema, decision: AccessDecision): GraphQLSchema {
  const readable = (typeName: string, fieldName: string): boolean => {
    const type = schema.getType(typeName);
    if (isInterfaceType(type)) return schema.getPossibleTypes(type).every((owner) => decision.canRead(owner.name, fieldName));
    return decision.canRead(typeName, fieldName);
  };
  const keepField = (config: GraphQLFieldConfig<unknown, unknown>, fieldName: string, typeName: string) => {
    if (!readable(typeName, fieldName)) return null;
    const args = Object.fromEntries(
      Object.entries(config.args ?? {}).filter(([argument]) => {
        const key = `${fieldName}(${argument})`;
        return !decision.classifies(typeName, key) || decision.canRead(typeName, key);
      }),
    );
    return { ...config, args };
  };
  // Removing fields can leave a type with none, and pruning removes the fields that returned it.
  const mapped = mapSchema(schema, {
    [MapperKind.OBJECT_FIELD]: keepField,
    [MapperKind.INTERFACE_FIELD]: keepField,
    [MapperKind.MUTATION]: (type) =>
      Object.keys(type.getFields()).some((field) => readable(type.name, field)) ? type : null,
  });
  return pruneSchema(mapped);
}

/** Whether an operation asks for the schema (`__schema` or `__type`, which exist only at the root). */
export function introspects(operation: OperationDefinitionNode): boolean {
  return operation.selectionSet.selections.some((s) => s.kind === 'Field' && (s.name.value === '__schema' || s.name.value === '__type'));
}
