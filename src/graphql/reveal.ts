import type { GraphQLContext } from './context.js';

/**
 * A personal value as this request may see it: the policy's partial or hash mask for the field is
 * looked up once in the request's decision and applied here, in the resolved data.
 */
export function reveal(context: GraphQLContext, field: string, value: string | null): string | null {
  if (value === null) return null;
  const mask = context.decision.masks.get(field);
  return mask === undefined ? value : mask.apply(value);
}
