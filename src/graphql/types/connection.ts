import type { ObjectRef } from '@pothos/core';
import { builder, type GatewaySchemaTypes } from '../builder.js';
import type { Connection } from '../pagination.js';

/**
 * A cursor of a connection over people encodes who is at that position (an attendee id): reading
 * it is reading about that person, so the access log records it (POLICY.md, "The access log").
 */
const identifiesPerson = { identifies: 'user.unique_id.pseudonymous' } as const;

export const PageInfo = builder.objectRef<Connection<unknown>['pageInfo']>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true, extensions: identifiesPerson }),
  }),
});

/** A Relay cursor connection (`edges { cursor node }`, `pageInfo`) over a node type. */
export function connectionOf<T>(name: string, node: ObjectRef<GatewaySchemaTypes, T>) {
  const Edge = builder.objectRef<{ cursor: string; node: T }>(`${name}Edge`).implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor', { extensions: identifiesPerson }),
      node: t.field({ type: node, resolve: (edge) => edge.node as never }),
    }),
  });
  return builder.objectRef<Connection<T>>(`${name}Connection`).implement({
    fields: (t) => ({
      edges: t.field({ type: [Edge], resolve: (connection) => connection.edges }),
      pageInfo: t.field({ type: PageInfo, resolve: (connection) => connection.pageInfo }),
    }),
  });
}
