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
