import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { QueryTooComplexError, type OperationLimitName } from '../../errors.js';

/**
 * How often each `Type.field` is selected by the operation that will run, counting every alias
 * and every fragment spread where it is spread (as execution would resolve it).
 */
export function countFieldSelections(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | undefined,
  fields: ReadonlySet<string>,
): Map<string, number> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const operations = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  const operation = operationName === undefined ? operations[0] : operations.find((o) => o.name?.value === operationName);
  const counts = new Map<string, number>();
  if (operation === undefined) return counts;
  const root = schema.getRootType(operation.operation);
  // Validation has already refused fragment cycles; the guard only bounds the walk.
  const walk = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined, spreads: readonly string[]): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const owner = parent !== undefined && (isObjectType(parent) || isInterfaceType(parent)) ? parent : undefined;
        const field = owner?.getFields()[selection.name.value];
        const key = `${owner?.name ?? '?'}.${selection.name.value}`;
        if (fields.has(key)) counts.set(key, (counts.get(key) ?? 0) + 1);
        if (selection.selectionSet !== undefined) walk(selection.selectionSet, field === undefined ? undefined : getNamedType(field.type), spreads);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition === undefined ? parent : schema.getType(selection.typeCondition.name.value);
        walk(selection.selectionSet, type ?? undefined, spreads);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment === undefined || spreads.includes(name)) continue;
        walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? undefined, [...spreads, name]);
      }
    }
  };
  walk(operation.selectionSet, root ?? undefined, []);
  return counts;
}

/**
 * Fields too expensive to run more than a few times per operation (`DataSubject.export` builds a
 * whole document and records an ACCESS request): selecting one more often than allowed, under
 * any number of aliases or fragments, is refused before execution (QUERY_TOO_COMPLEX, limit
 * "export").
 */
export function useExpensiveFields(options: { fields: Readonly<Record<string, { max: number; limit: OperationLimitName }>> }): Plugin {
  const fields = new Set(Object.keys(options.fields));
  return {
    onValidate({ params, context }) {
      const operationName = (context as { params?: { operationName?: string } }).params?.operationName;
      return ({ valid }) => {
        if (!valid) return;
        for (const [key, count] of countFieldSelections(params.schema, params.documentAST, operationName, fields)) {
          const { max, limit } = options.fields[key]!;
          if (count > max) throw new QueryTooComplexError(limit, max);
        }
      };
    },
  };
}
