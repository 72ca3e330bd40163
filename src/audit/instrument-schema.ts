import { defaultFieldResolver, getNamedType, isObjectType, type GraphQLField, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import type { AccessTrail } from './access-trail.js';

interface TrailContext {
  trail?: AccessTrail;
}

const isPromiseLike = (value: unknown): value is PromiseLike<unknown> =>
  typeof (value as { then?: unknown } | null)?.then === 'function';

/**
 * Every field of every personal type (`extensions.personal`), and every field marked personal on
 * its own (a root field whose answer is about people, even when it returns no person), reports
 * what it returned to the request's access trail, so the access log sees every personal read
 * however the operation was written (aliases, fragments, nesting). Done once on the schema, not
 * in each resolver.
 */
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

export function instrumentPersonalReads(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type)) continue;
    const personalType = type.extensions?.['personal'] === true;
    for (const field of Object.values(type.getFields())) {
      const identifies = field.extensions?.['identifies'];
      if (typeof identifies === 'string') {
        // An identifier on a non-personal type (a cursor): recorded when it names someone.
        const resolveIdentifier: GraphQLFieldResolver<unknown, TrailContext> = field.resolve ?? defaultFieldResolver;
        field.resolve = (source, args, context, info) => {
          const value = resolveIdentifier(source, args, context, info);
          context.trail?.identified(type.name, field.name, source, value, identifies);
          return value;
        };
        continue;
      }
      if (returnsPeople(field)) {
        // Whatever is selected of them, the people a field returns were read.
        const resolvePeople: GraphQLFieldResolver<unknown, TrailContext> = field.resolve ?? defaultFieldResolver;
        field.resolve = (source, args, context, info) => {
          const value = resolvePeople(source, args, context, info);
          const trail = context.trail;
          if (trail === undefined) return value;
          if (isPromiseLike(value)) {
            return Promise.resolve(value).then((resolved) => {
              trail.returned(type.name, field.name, resolved);
              return resolved;
            });
          }
          trail.returned(type.name, field.name, value);
          return value;
        };
      }
      if (!personalType && field.extensions?.['personal'] !== true) continue;
      const resolve: GraphQLFieldResolver<unknown, TrailContext> = field.resolve ?? defaultFieldResolver;
      field.resolve = (source, args, context, info) => {
        const value = resolve(source, args, context, info);
        const trail = context.trail;
        if (trail === undefined) return value;
        if (isPromiseLike(value)) {
          return Promise.resolve(value).then((resolved) => {
            trail.read(type.name, field.name, source, resolved);
            return resolved;
          });
        }
        trail.read(type.name, field.name, source, value);
        return value;
      };
    }
  }
  return schema;
}
