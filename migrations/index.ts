import type { Migration } from 'kysely';
import * as foundation from './0001-foundation.js';
import * as personScope from './0002-person-scope.js';
import * as consentAndRequests from './0003-consent-and-requests.js';
import * as accessLog from './0004-access-log.js';
import * as maskedReads from './0005-masked-reads.js';
import * as accessLogPerPerson from './0006-access-log-per-person.js';
import * as writePolicies from './0006-write-policies.js';
import * as retentionHoldsIncidents from './0007-retention-holds-incidents.js';
import * as rateLimits from './0009-rate-limits.js';
import * as accessLogChains from './0010-access-log-chains.js';
import * as maskingCost from './0011-masking-cost.js';
import * as keyedViewReads from './0012-keyed-view-reads.js';
import * as cutsAppendOnly from './0013-cuts-append-only.js';

/**
 * Forward-only: migrations are listed here in order and never edited once landed. A static list
 * (rather than reading the folder) keeps the order explicit and works the same under tsx and vitest.
 */
export const migrations: Record<string, Migration> = {
  '0001-foundation': foundation,
  '0002-person-scope': personScope,
  '0003-consent-and-requests': consentAndRequests,
  '0004-access-log': accessLog,
  '0005-masked-reads': maskedReads,
  '0006-access-log-per-person': accessLogPerPerson,
  '0006-write-policies': writePolicies,
  '0007-retention-holds-incidents': retentionHoldsIncidents,
  '0009-rate-limits': rateLimits,
  '0010-access-log-chains': accessLogChains,
  '0011-masking-cost': maskingCost,
  '0012-keyed-view-reads': keyedViewReads,
  '0013-cuts-append-only': cutsAppendOnly,
};
