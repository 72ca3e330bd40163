import { builder, personal } from '../builder.js';

export interface AddressValue {
  /** Whose address (for the access log). */
  personId: string | null;
  line1: string | null;
  city: string | null;
  region: string | null;
  postalCode: string | null;
  country: string | null;
}

export const AddressRef = builder.objectRef<AddressValue>('Address').implement({
  extensions: personal,
  fields: (t) => ({
    line1: t.exposeString('line1', { nullable: true }),
    city: t.exposeString('city', { nullable: true }),
    region: t.exposeString('region', { nullable: true }),
    postalCode: t.exposeString('postalCode', { nullable: true }),
    country: t.exposeString('country', { nullable: true }),
  }),
});
