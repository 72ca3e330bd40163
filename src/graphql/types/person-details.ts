import type { DeviceRow, SupportCaseRow, UsageEventRow } from '../../db/queries/people.js';
import { builder, personal } from '../builder.js';

export const DeviceRef = builder.objectRef<DeviceRow>('Device').implement({
  extensions: personal,
  description: 'A device the person used: for security and fraud prevention (Janix §2).',
  fields: (t) => ({
    ip: t.exposeString('ip'),
    userAgent: t.exposeString('userAgent'),
  }),
});

export const UsageEventRef = builder.objectRef<UsageEventRow>('UsageEvent').implement({
  extensions: personal,
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime' }),
    page: t.exposeString('page'),
    feature: t.exposeString('feature'),
  }),
});

export const SupportCaseRef = builder.objectRef<SupportCaseRow>('SupportCase').implement({
  extensions: personal,
  fields: (t) => ({
    id: t.exposeID('id'),
    openedAt: t.expose('openedAt', { type: 'DateTime' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    subject: t.exposeString('subject'),
    body: t.exposeString('body'),
  }),
});
