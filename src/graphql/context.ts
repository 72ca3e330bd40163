import type { YogaInitialContext } from 'graphql-yoga';
import type { Caller } from '../auth/caller.js';
import type { AccessTrail } from '../audit/access-trail.js';
import type { AccessDecision } from '../policy/access-decision.js';
import type { RequestLoaders } from './loaders.js';

export interface GraphQLContext extends YogaInitialContext {
  readonly caller: Caller;
  /** The policy's decision for this caller's role and purpose, made once before validation. */
  readonly decision: AccessDecision;
  readonly data: RequestLoaders;
  /** What this request reads of personal data, for its access-log entry. */
  readonly trail: AccessTrail;
}
