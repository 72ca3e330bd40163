import SchemaBuilder from '@pothos/core';
import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import type { GraphQLContext } from './context.js';

/** The one Pothos builder; each domain type adds itself in its own file under types/. */
export interface GatewayTypes {
  Context: GraphQLContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
  };
  DefaultFieldNullability: false;
}

export type GatewaySchemaTypes = PothosSchemaTypes.ExtendDefaultTypes<GatewayTypes>;

export const builder = new SchemaBuilder<GatewayTypes>({ defaultFieldNullability: false });

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSONObject', JSONObjectResolver);
builder.queryType({});

/** Marks an object type as holding personal data: the policy must classify every field of it. */
export const personal = { personal: true } as const;
