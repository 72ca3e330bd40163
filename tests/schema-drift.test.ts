import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/config.js';
import { printGatewaySchema } from '../src/graphql/schema.js';

describe('schema/schema.graphql', () => {
  it('is exactly what the code prints (run `npm run schema:print` after changing types)', () => {
    const committed = fs.readFileSync(path.join(projectRoot, 'schema', 'schema.graphql'), 'utf8');
    expect(printGatewaySchema()).toBe(committed);
  });

  it('keeps the names CONTRACT.md fixes', () => {
    const printed = printGatewaySchema();
    for (const name of [
      'viewer: Viewer!',
      'events(after: String, first: Int): EventConnection!',
      'event(id: ID!): Event',
      'attendees(after: String, eventId: ID, first: Int): AttendeeConnection!',
      'attendee(id: ID!): Attendee',
      'masked: [MaskedField!]!',
      'orders: [Order!]!',
      'tickets: [Ticket!]!',
      'hasNextPage: Boolean!',
    ]) {
      expect(printed).toContain(name);
    }
  });
});
