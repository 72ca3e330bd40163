import type { PersonRow } from '../../db/queries/people.js';
import { findPerson } from '../../db/queries/people.js';
import { NotFoundError } from '../../errors.js';
import { builder, personal } from '../builder.js';
import { isLookupableId } from '../pagination.js';
import { PersonRef, personFields } from './person-fields.js';
import { AttendeeRef } from './refs.js';

export const DataSubjectRef = builder.objectRef<PersonRow>('DataSubject').implement({
  interfaces: [PersonRef],
  extensions: personal,
  description: 'A person as the platform holds them, across every tenant that knows them.',
  fields: (t) => ({
    id: t.exposeID('personId', { description: "The platform's person id (the source system's)." }),
    ...personFields(t, 'DataSubject'),
    residency: t.exposeString('residency', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastActiveAt: t.expose('lastActiveAt', { type: 'DateTime', nullable: true }),
    attendances: t.field({
      type: [AttendeeRef],
      description: 'The person as each tenant knows them, with their orders.',
      resolve: (person, _args, { data }) => data.attendancesOfPerson.load(person.personId),
    }),
  }),
});

builder.queryFields((t) => ({
  me: t.field({
    type: DataSubjectRef,
    nullable: true,
    description: 'The data subject in the token (role data_subject, purpose self-service).',
    resolve: async (_root, _args, { caller, data }) =>
      (await data.run((db) => findPerson(db, caller.subject))) ?? null,
  }),
  dataSubject: t.field({
    type: DataSubjectRef,
    nullable: true,
    description: "Any person by the platform's person id (privacy officer, legal-compliance).",
    args: { personId: t.arg.id({ required: true }) },
    resolve: async (_root, args, { data }) => {
      const personId = String(args.personId);
      const person = isLookupableId(personId) ? await data.run((db) => findPerson(db, personId)) : undefined;
      if (person === undefined) throw new NotFoundError('Person');
      return person;
    },
  }),
}));
