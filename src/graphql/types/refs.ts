import type { AttendeeRow } from '../../db/queries/attendees.js';
import type { EventRow } from '../../db/queries/events.js';
import type { OrderRow, RelationshipRow, TicketRow } from '../../db/queries/orders.js';
import type { Caller } from '../../auth/caller.js';
import { builder } from '../builder.js';

// Declared apart from their implementations so that types may refer to each other without cycles.
export const ViewerRef = builder.objectRef<Caller>('Viewer');
export const EventRef = builder.objectRef<EventRow>('Event');
export const AttendeeRef = builder.objectRef<AttendeeRow>('Attendee');
export const OrderRef = builder.objectRef<OrderRow>('Order');
export const TicketRef = builder.objectRef<TicketRow>('Ticket');
export const RelationshipRef = builder.objectRef<{ row: RelationshipRow; of: AttendeeRow }>('Relationship');
