import type { LegalHoldRow } from '../../db/queries/legal-holds.js';
import { legalHolds, liftLegalHold, placeLegalHold, WAITING_FOR_HOLD } from '../../privacy/legal-holds.js';
import { builder, personal } from '../builder.js';
import { DataSubjectRequestRef, requester, targetPerson } from './data-subject-requests.js';

const LegalHoldRef = builder.objectRef<LegalHoldRow>('LegalHold').implement({
  extensions: personal,
  description: 'A legal hold: the person is kept by retention and by erasure while it is active.',
  fields: (t) => ({
    personId: t.exposeID('personId'),
    reason: t.exposeString('reason'),
    placedBy: t.exposeString('placedBy'),
    placedAt: t.expose('placedAt', { type: 'DateTime' }),
    until: t.expose('until', { type: 'DateTime', nullable: true, description: 'The hold ends by itself then.' }),
    liftedBy: t.exposeString('liftedBy', { nullable: true }),
    liftedAt: t.expose('liftedAt', { type: 'DateTime', nullable: true }),
    active: t.boolean({ resolve: (hold) => hold.liftedAt === null && (hold.until === null || hold.until.getTime() > Date.now()) }),
  }),
});

builder.objectField(DataSubjectRequestRef, 'waitingFor', (t) =>
  t.string({
    nullable: true,
    description: 'Why an open request is not carried out yet: LEGAL_HOLD (an erasure waits until the hold ends).',
    resolve: (request) => (request.completedAt === null && request.details['waitingFor'] === WAITING_FOR_HOLD ? WAITING_FOR_HOLD : null),
  }),
);

builder.queryField('legalHolds', (t) =>
  t.field({
    type: [LegalHoldRef],
    description: 'Legal holds, newest first, active and lifted; of one person with personId (privacy officer).',
    args: { personId: t.arg.id() },
    resolve: (_root, args, { caller, data }) => {
      const personId = args.personId === null || args.personId === undefined ? undefined : targetPerson(caller, args.personId);
      return data.run((db) => legalHolds(db, personId));
    },
  }),
);

builder.mutationFields((t) => ({
  placeLegalHold: t.field({
    type: LegalHoldRef,
    description: 'Keeps the person from retention and erasure (legal obligations, disputes, fraud prevention) until lifted or `until`.',
    args: { personId: t.arg.id({ required: true }), reason: t.arg.string({ required: true }), until: t.arg({ type: 'DateTime' }) },
    resolve: (_root, args, { caller, data }) => {
      const personId = targetPerson(caller, args.personId);
      return data.run((db) => placeLegalHold(db, requester(caller), personId, { reason: args.reason, until: args.until ?? null }));
    },
  }),
  liftLegalHold: t.field({
    type: LegalHoldRef,
    description: "Lifts the person's hold; an erasure request that waited for it is carried out at once.",
    args: { personId: t.arg.id({ required: true }) },
    resolve: (_root, args, { caller, data }) => {
      const personId = targetPerson(caller, args.personId);
      return data.run((db) => liftLegalHold(db, requester(caller), personId));
    },
  }),
}));
