import { builder } from '../builder.js';
import { ViewerRef } from './refs.js';

ViewerRef.implement({
  description: 'The caller as the gateway understood the token and the declared purpose.',
  fields: (t) => ({
    sub: t.exposeString('subject'),
    role: t.exposeString('role'),
    tenant: t.exposeString('tenantId', { nullable: true }),
    purpose: t.exposeString('purpose'),
  }),
});

builder.queryField('viewer', (t) => t.field({ type: ViewerRef, resolve: (_root, _args, context) => context.caller }));
