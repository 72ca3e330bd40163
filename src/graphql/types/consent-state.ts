import type { PersonFields } from '../../db/queries/person-columns.js';
import { builder, personal } from '../builder.js';

export interface ConsentValue {
  /** Whose choices (for the access log). */
  personId: string | null;
  marketing: boolean;
  enrichment: boolean;
  doNotSell: boolean;
  restricted: boolean;
  objection: boolean;
  updatedAt: Date;
}

export const ConsentStateRef = builder.objectRef<ConsentValue>('ConsentState').implement({
  extensions: personal,
  description: "A person's choices; `enrichment: false` means they opted out of enrichment.",
  fields: (t) => ({
    marketing: t.exposeBoolean('marketing'),
    enrichment: t.exposeBoolean('enrichment'),
    doNotSell: t.exposeBoolean('doNotSell'),
    restricted: t.exposeBoolean('restricted'),
    objection: t.exposeBoolean('objection'),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

/** A person's consent state from their row; null when it is not there (masked, or no consent row). */
export function consentValueOf(row: PersonFields): ConsentValue | null {
  if (row.consentMarketing === null) return null;
  return {
    personId: row.personId,
    marketing: row.consentMarketing,
    enrichment: row.consentEnrichment ?? false,
    doNotSell: row.consentDoNotSell ?? false,
    restricted: row.consentRestricted ?? false,
    objection: row.consentObjection ?? false,
    updatedAt: row.consentUpdatedAt ?? new Date(0),
  };
}
