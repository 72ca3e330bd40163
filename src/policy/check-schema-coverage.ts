import { isObjectType, type GraphQLSchema } from 'graphql';
import { PolicyError, type Policy } from './policy.js';

/** `field` or `field(argument)`, as keys of a type's classification. */
export function parseFieldKey(key: string): { field: string; argument: string | undefined } {
  const match = /^([A-Za-z_]\w*)(?:\(([A-Za-z_]\w*)\))?$/.exec(key);
  return match === null ? { field: key, argument: undefined } : { field: match[1]!, argument: match[2] };
}

/**
 * Default deny at start-up: the server refuses a policy that leaves any field of a personal type
 * unclassified, misses a type the schema serves, or classifies something the schema does not have.
 * Types are personal when the policy says so or when the schema marks them (`extensions.personal`),
 * so forgetting a type in the policy cannot make it readable.
 */
export function checkSchemaCoverage(policy: Policy, schema: GraphQLSchema): void {
  const problems: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const spec = policy.types.get(type.name);
    const markedPersonal = type.extensions?.['personal'] === true;
    if (spec === undefined) {
      problems.push(`type ${type.name} is not in the policy${markedPersonal ? ' (it holds personal data)' : ''}`);
      continue;
    }
    if (markedPersonal && !spec.personal) problems.push(`type ${type.name} holds personal data: mark it personal`);
    const fields = type.getFields();
    if (spec.personal) {
      for (const field of Object.keys(fields)) {
        if (!spec.fields.has(field)) problems.push(`personal field ${type.name}.${field} is unclassified`);
      }
    }
    for (const key of spec.fields.keys()) {
      const { field, argument } = parseFieldKey(key);
      const known = fields[field];
      if (known === undefined || (argument !== undefined && !known.args.some((a) => a.name === argument))) {
        problems.push(`the policy classifies ${type.name}.${key}, which the schema does not have`);
      }
    }
  }
  for (const type of policy.types.keys()) {
    if (!isObjectType(schema.getType(type))) problems.push(`the policy names type ${type}, which the schema does not have`);
  }
  if (problems.length > 0) throw new PolicyError(problems);
}
