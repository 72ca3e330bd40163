import { findEventsById } from '../db/queries/events.js';
import { NotFoundError } from '../errors.js';
import type { RequestLoaders } from './loaders.js';
import { isLookupableId } from './pagination.js';

/** The event an `eventId` argument names in the caller's scope, or NOT_FOUND (also for another tenant's). */
export async function eventInScope(data: RequestLoaders, eventId: string | number | null | undefined) {
  if (eventId === null || eventId === undefined) return undefined;
  const id = String(eventId);
  const events = isLookupableId(id) ? await data.run((db) => findEventsById(db, data.scope, id)) : [];
  if (events.length !== 1) throw new NotFoundError('Event');
  return events[0]!;
}
