import { defaultFieldResolver, getNamedType, isObjectType, type GraphQLField, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import type { AccessTrail } from './access-trail.js';

interface TrailContext {
  trail?: AccessTrail;
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

/** Wraps a resolver so that what it resolved (awaited when a promise) is reported to the request's trail. */
function reporting(
  resolver: GraphQLFieldResolver<unknown, TrailContext> | undefined,
  report: (trail: AccessTrail, source: unknown, value: unknown) => void,
): GraphQLFieldResolver<unknown, TrailContext> {
  const resolve = resolver ?? defaultFieldResolver;
  return (source, args, context, info) => {
    const value = resolve(source, args, context, info);
    const trail = context.trail;
    if (trail === undefined) return value;
    if (isPromiseLike(value)) {
      return Promise.resolve(value).then((resolved) => {
        report(trail, source, resolved);
        return resolved;
      });
    }
    report(trail, source, value);
    return value;
  };
}

const isPersonalType = (type: unknown): boolean => isObjectType(type) && type.extensions?.['personal'] === true;

/** A field whose answer is people: a personal type, a list of one, or a connection whose nodes are one. */
function returnsPeople(field: GraphQLField<unknown, unknown>): boolean {
  const returned = getNamedType(field.type);
  if (isPersonalType(returned)) return true;
  if (!isObjectType(returned)) return false;
  const edges = returned.getFields()['edges'];
  const edge = edges === undefined ? undefined : getNamedType(edges.type);
  const node = isObjectType(edge) ? edge.getFields()['node'] : undefined;
  return node !== undefined && isPersonalType(getNamedType(node.type));
}

/**
 * Done once on the schema, not in each resolver, so a field added later cannot forget it:
 * - every field of every personal type (`extensions.personal`), and every field marked personal on
 *   its own (a root field whose answer is about people), reports what it returned;
 * - every field that returns people (a personal type, a list or a page of one) names them, whatever
 *   the operation selects of them (`__typename`, `pageInfo` alone);
 * - every identifier on a non-personal type (`extensions.identifies`: a cursor) names the person it
 *   encodes.
 * The request's access trail gets all of it, however the operation was written (aliases,
 * fragments, nesting).
 */
export function instrumentPersonalReads(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type)) continue;
    const personalType = type.extensions?.['personal'] === true;
    for (const field of Object.values(type.getFields())) {
      const identifies = field.extensions?.['identifies'];
      if (typeof identifies === 'string') {
        // An identifier on a non-personal type (a cursor): recorded when it names someone.
        field.resolve = reporting(field.resolve, (trail, source, value) => trail.identified(type.name, field.name, source, value, identifies));
        continue;
      }
      if (returnsPeople(field)) {
        // Whatever is selected of them, the people a field returns were read.
        field.resolve = reporting(field.resolve, (trail, _source, value) => trail.returned(type.name, field.name, value));
      }
      if (!personalType && field.extensions?.['personal'] !== true) continue;
      field.resolve = reporting(field.resolve, (trail, source, value) => trail.read(type.name, field.name, source, value));
    }
  }
  return schema;
}
