import { isInterfaceType, isIntrospectionType, isObjectType, isUnionType, type ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { FieldNotPermittedError } from '../../errors.js';
import type { AccessDecision } from '../../policy/access-decision.js';
import { callerOf } from './use-caller.js';

/**
 * Refuses, at validation time, an operation that selects any field the declared purpose may not
 * read, listing every offending `Type.field` however it was reached (aliases, named and inline
 * fragments, nesting). Validation runs before execution, so a refused operation reads nothing.
 */
export function fieldPolicyRule(decision: AccessDecision, refused: Set<string>): ValidationRule {
  return (context) => {
    const schema = context.getSchema();
    return {
      Field(node) {
        const parent = context.getParentType();
        const field = node.name.value;
        // Introspection (__schema, __type and the types under them) describes the schema, not data;
        // production refuses it whole (useDisableIntrospection).
        if (parent === null || parent === undefined || field.startsWith('__') || isIntrospectionType(parent)) return;
        // On an interface the field may resolve on any implementation: each must allow it.
        const owners = isObjectType(parent)
          ? [parent]
          : isInterfaceType(parent)
            ? schema.getPossibleTypes(parent)
            : isUnionType(parent)
              ? []
              : [];
        for (const owner of owners) {
          if (!decision.canRead(owner.name, field)) refused.add(`${owner.name}.${field}`);
          // Filtering by an argument can reveal what it filters on: classified arguments are checked too.
          for (const argument of node.arguments ?? []) {
            const key = `${field}(${argument.name.value})`;
            if (decision.classifies(owner.name, key) && !decision.canRead(owner.name, key)) refused.add(`${owner.name}.${key}`);
          }
        }
      },
    };
  };
}

/**
 * The refusal is thrown rather than reported as a validation error: yoga answers validation errors
 * with 200/400, and CONTRACT.md refuses the request as a whole with 403.
 */
export function useFieldPolicy(): Plugin {
  return {
    onValidate({ addValidationRule, context }) {
      const { decision } = callerOf((context as { request: Request }).request);
      const refused = new Set<string>();
      addValidationRule(fieldPolicyRule(decision, refused));
      return () => {
        if (refused.size > 0) throw new FieldNotPermittedError(decision.purpose, [...refused].sort());
      };
    },
  };
}
