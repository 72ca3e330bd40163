import type { PersonFields } from '../../db/queries/person-columns.js';
import { PERSON_MASKABLE_FIELDS } from '../../policy/policy.js';
import { builder, type GatewaySchemaTypes } from '../builder.js';
import { AddressRef } from './address.js';
import { ConsentStateRef, consentValueOf } from './consent-state.js';
import { MaskedFieldRef, type MaskedFieldValue } from './masked-field.js';
import { DeviceRef, SupportCaseRef, UsageEventRef } from './person-details.js';

/** Whether a person is there to read collections of (an erased person's attendee rows point at nobody). */
function present<Row extends PersonFields>(row: Row): row is Row & { personId: string } {
  return row.personId !== null;
}

type PersonStringField = 'name' | 'email' | 'phone' | 'ageRange' | 'company' | 'jobTitle' | 'industry' | 'webPresence';

/**
 * The fields a person has wherever they are read: as a tenant's attendee or as a data subject.
 * Each type name keys the policy (`Attendee.email`, `DataSubject.email`), so masks stay per type.
 */
export function personFields<Row extends PersonFields>(
  t: PothosSchemaTypes.ObjectFieldBuilder<GatewaySchemaTypes, Row>,
  typeName: 'Attendee' | 'DataSubject',
) {
  const personalString = (field: PersonStringField) =>
    t.string({
      nullable: true,
      // Masked in the database already (purpose level, partial, hash, the person's state).
      resolve: (row: Row) => row[field],
    });
  return {
    name: personalString('name'),
    email: personalString('email'),
    phone: personalString('phone'),
    billingAddress: t.field({
      type: AddressRef,
      nullable: true,
      resolve: (row) =>
        row.billingLine1 === null && row.billingCity === null && row.billingCountry === null
          ? null
          : {
              personId: row.personId,
              line1: row.billingLine1,
              city: row.billingCity,
              region: row.billingRegion,
              postalCode: row.billingPostalCode,
              country: row.billingCountry,
            },
    }),
    ageRange: personalString('ageRange'),
    company: personalString('company'),
    jobTitle: personalString('jobTitle'),
    industry: personalString('industry'),
    webPresence: personalString('webPresence'),
    consent: t.field({
      type: ConsentStateRef,
      nullable: true,
      resolve: (row) => consentValueOf(row),
    }),
    devices: t.field({
      type: [DeviceRef],
      resolve: (row, _args, { data }) => (present(row) ? data.devicesOfPerson.load(row.personId) : []),
    }),
    usage: t.field({
      type: [UsageEventRef],
      description: 'Pages and features used (usage analytics).',
      resolve: (row, _args, { data }) => (present(row) ? data.usageOfPerson.load(row.personId) : []),
    }),
    supportCases: t.field({
      type: [SupportCaseRef],
      resolve: (row, _args, { data }) => (present(row) ? data.supportCasesOfPerson.load(row.personId) : []),
    }),
    masked: t.field({
      type: [MaskedFieldRef],
      description: 'Each field of this person that the caller sees masked, with the reason.',
      resolve: (row, _args, { decision }) => {
        const masked: MaskedFieldValue[] = [];
        for (const field of PERSON_MASKABLE_FIELDS) {
          const reason = row.consentMasks[field];
          if (reason !== undefined && decision.canRead(typeName, field)) masked.push({ field, reason });
        }
        const prefix = `${typeName}.`;
        for (const [key, mask] of decision.masks) {
          if (mask.level !== 'partial' || !key.startsWith(prefix)) continue;
          const field = key.slice(prefix.length);
          if (row[field as keyof PersonFields] !== null && row[field as keyof PersonFields] !== undefined) {
            masked.push({ field, reason: 'PARTIAL' });
          }
        }
        return masked;
      },
    }),
  };
}

/**
 * What every kind of person read has in common, so a client can select it once with
 * `... on Person`. Resolvers live on the object types (each keys its own policy entries); the
 * field policy checks a field selected on the interface against every implementation.
 */
export const PersonRef = builder.interfaceRef<PersonFields>('Person').implement({
  description: 'A person, as a tenant knows them (Attendee) or as the platform holds them (DataSubject).',
  fields: (t) => ({
    name: t.exposeString('name', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    phone: t.exposeString('phone', { nullable: true }),
    ageRange: t.exposeString('ageRange', { nullable: true }),
  }),
});
