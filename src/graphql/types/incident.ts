import { incidentCategories, listIncidents, regulatorCounts, type IncidentRow, type RevocationRow } from '../../db/queries/incidents.js';
import {
  incidentOrRefuse,
  markNotified,
  notificationsCsv,
  notificationsOf,
  openIncident,
  revokeAccess,
  type BreachNotice,
} from '../../privacy/breach-response.js';
import { builder, personal } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { isLookupableId } from '../pagination.js';
import { BreachCategoryRef } from './access-log.js';
import { requester } from './data-subject-requests.js';

const isOverdue = (incident: IncidentRow, now = Date.now()) => incident.unnotified > 0 && incident.notifyBy.getTime() < now;

const BreachNotificationRef = builder.objectRef<BreachNotice>('BreachNotification').implement({
  extensions: personal,
  description: 'What JanusIPM §12 promises one affected person: the nature, likely consequences, measures taken and whom to contact.',
  fields: (t) => ({
    personId: t.exposeID('personId'),
    email: t.exposeString('email', { nullable: true, description: 'The contact as held now; null once the person is erased.' }),
    residency: t.exposeString('residency', { nullable: true }),
    categories: t.exposeStringList('categories', { description: 'Data categories exposed.' }),
    nature: t.exposeString('nature'),
    consequences: t.exposeString('consequences'),
    measures: t.exposeString('measures'),
    contact: t.exposeString('contact'),
    notifiedAt: t.expose('notifiedAt', { type: 'DateTime', nullable: true }),
  }),
});

const RegulatorCountRef = builder.objectRef<{ residency: string; category: string; people: number }>('RegulatorCount').implement({
  description: 'People affected, by residency and category; no person in it.',
  fields: (t) => ({ residency: t.exposeString('residency'), category: t.exposeString('category'), people: t.exposeInt('people') }),
});

const RevocationRef = builder.objectRef<RevocationRow>('Revocation').implement({
  description: 'A revoked token (jti) or actor (sub): refused from the next request on every gateway process.',
  fields: (t) => ({
    jti: t.exposeString('tokenId', { nullable: true }),
    actor: t.exposeString('actor', { nullable: true }),
    reason: t.exposeString('reason'),
    revokedBy: t.exposeString('revokedBy'),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

/** Reads the notices through the request's transaction; each person read is recorded in the access log. */
async function notices(incident: IncidentRow, context: GraphQLContext): Promise<BreachNotice[]> {
  return context.data.run((db) => notificationsOf(db, incident));
}

const IncidentRef = builder.objectRef<IncidentRow>('Incident').implement({
  description: 'A breach: its frozen scope from the access log, the 72-hour deadline, and who was notified.',
  fields: (t) => ({
    id: t.exposeID('id'),
    openedAt: t.expose('openedAt', { type: 'DateTime' }),
    openedBy: t.exposeString('openedBy'),
    notifyBy: t.expose('notifyBy', { type: 'DateTime', description: 'openedAt + 72 hours (JanusIPM §12).' }),
    overdue: t.boolean({ description: 'Past notifyBy with someone not yet notified.', resolve: (incident) => isOverdue(incident) }),
    jti: t.exposeString('tokenId', { nullable: true }),
    actor: t.exposeString('actor', { nullable: true }),
    tenant: t.exposeString('tenantId', { nullable: true }),
    from: t.expose('from', { type: 'DateTime' }),
    to: t.expose('to', { type: 'DateTime' }),
    nature: t.exposeString('nature'),
    consequences: t.exposeString('consequences'),
    measures: t.exposeString('measures'),
    contact: t.exposeString('contact'),
    entries: t.exposeInt('entries', { description: 'Access-log entries in scope when it was opened.' }),
    affectedPeople: t.exposeInt('affectedPeople'),
    notNotified: t.exposeInt('unnotified', { description: 'Affected people not yet marked notified.' }),
    categories: t.field({
      type: [BreachCategoryRef],
      description: 'People per data category exposed.',
      resolve: (incident, _args, { data }) => data.run((db) => incidentCategories(db, incident.id)),
    }),
    notifications: t.field({
      type: [BreachNotificationRef],
      description: 'Privacy officer only: one per affected person, with their contact (a logged legal-compliance read).',
      resolve: (incident, _args, context) => notices(incident, context),
    }),
    notificationsCsv: t.string({
      extensions: personal,
      description: `The notifications as CSV for a mailer (columns personId, email, residency, categories, nature, consequences, measures, contact, notifiedAt).`,
      resolve: async (incident, _args, context) => {
        const rows = await notices(incident, context);
        // The CSV carries each person's id, contact, residency and categories: recorded as those reads.
        for (const row of rows) {
          for (const field of ['personId', 'email', 'residency', 'categories'] as const) context.trail.read('BreachNotification', field, row, row[field]);
        }
        return notificationsCsv(rows);
      },
    }),
    regulatorSummary: t.field({
      type: [RegulatorCountRef],
      description: 'Counts of people by residency and category, for the regulator: no person in it.',
      resolve: (incident, _args, { data }) => data.run((db) => regulatorCounts(db, incident.id)),
    }),
  }),
});

const IncidentInput = builder.inputType('IncidentInput', {
  description: 'A token (jti), an actor (sub) or a tenant, a window, and what the affected people are told (JanusIPM §12).',
  fields: (t) => ({
    jti: t.string(),
    actor: t.string(),
    tenant: t.string(),
    from: t.field({ type: 'DateTime', required: true }),
    to: t.field({ type: 'DateTime', required: true, description: 'Exclusive.' }),
    nature: t.string({ required: true, description: 'The nature of the breach.' }),
    consequences: t.string({ required: true, description: 'Its likely consequences.' }),
    measures: t.string({ required: true, description: 'The measures taken.' }),
    contact: t.string({ required: true, description: 'Whom to contact for more information.' }),
    revoke: t.boolean({ description: 'Also revoke the jti or actor at once.' }),
  }),
});

builder.queryFields((t) => ({
  incidents: t.field({
    type: [IncidentRef],
    // An incident is a summary of the access log: reading it is logged, as reading the log is.
    extensions: personal,
    description: 'Incidents, newest first; `overdue: true` lists those past notifyBy with people not yet notified.',
    args: { overdue: t.arg.boolean() },
    resolve: (_root, args, { data }) => data.run((db) => listIncidents(db, args.overdue === true ? new Date() : undefined)),
  }),
  incident: t.field({
    type: IncidentRef,
    nullable: true,
    extensions: personal,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, { data }) => {
      const id = String(args.id);
      return isLookupableId(id) ? data.run((db) => incidentOrRefuse(db, id)) : null;
    },
  }),
}));

builder.mutationFields((t) => ({
  openIncident: t.field({
    type: IncidentRef,
    // Opening reads the access log (who was exposed): a read of the log, logged like one.
    extensions: personal,
    description: 'Opens an incident: scope frozen from the access log, notifyBy = now + 72 h; `revoke: true` revokes the jti or actor too.',
    args: { input: t.arg({ type: IncidentInput, required: true }) },
    resolve: (_root, { input }, { caller, data }) =>
      data.run((db) =>
        openIncident(db, requester(caller), {
          jti: input.jti ?? null,
          actor: input.actor ?? null,
          tenant: input.tenant ?? null,
          from: input.from,
          to: input.to,
          nature: input.nature,
          consequences: input.consequences,
          measures: input.measures,
          contact: input.contact,
          revoke: input.revoke ?? false,
        }),
      ),
  }),
  revokeAccess: t.field({
    type: RevocationRef,
    description: 'Revokes a token (jti) or every token of an actor (sub): UNAUTHENTICATED (reason TOKEN_REVOKED) from the next request.',
    args: { jti: t.arg.string(), actor: t.arg.string(), reason: t.arg.string({ required: true }) },
    resolve: (_root, args, { caller, data }) =>
      data.run((db) => revokeAccess(db, requester(caller), { jti: args.jti ?? null, actor: args.actor ?? null, reason: args.reason })),
  }),
  markNotified: t.field({
    type: IncidentRef,
    description: 'Marks affected people notified (privacy officer).',
    args: { incidentId: t.arg.id({ required: true }), personIds: t.arg.idList({ required: true }) },
    resolve: (_root, args, { caller, data }) => {
      const id = String(args.incidentId);
      return data.run((db) => markNotified(db, requester(caller), id, args.personIds.map(String)));
    },
  }),
}));
