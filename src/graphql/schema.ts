import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { instrumentPersonalReads } from '../audit/instrument-schema.js';
import { builder } from './builder.js';
import './types/viewer.js';
import './types/event.js';
import './types/attendee.js';
import './types/order.js';
import './types/relationship.js';
import './types/data-subject.js';
import './types/audience.js';
import './types/data-subject-requests.js';
import './types/access-log.js';
import './types/legal-hold.js';
import './types/retention-run.js';
import './types/incident.js';

let schema: GraphQLSchema | undefined;

/** The GraphQL schema, built once from the Pothos types. */
export function gatewaySchema(): GraphQLSchema {
  schema ??= instrumentPersonalReads(builder.toSchema());
  return schema;
}

/** The SDL committed as schema/schema.graphql; a test fails when the two drift. */
export function printGatewaySchema(): string {
  return `${printSchema(lexicographicSortSchema(gatewaySchema()))}\n`;
}
