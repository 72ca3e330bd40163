import type { DataScope } from '../db/request-scope.js';
import { PurposeNotPermittedError, PurposeRequiredError, UnauthenticatedError } from '../errors.js';
import type { Policy, RoleScope } from '../policy/policy.js';
import type { TokenClaims } from './claims.js';

/** Who is asking, in which role, for which purpose, and whose rows that lets them see. */
export interface Caller {
  readonly subject: string;
  readonly role: string;
  readonly roleScope: RoleScope;
  readonly purpose: string;
  readonly tenantId: string | null;
  readonly tokenId: string | null;
  readonly scope: DataScope;
}

const PURPOSE_PATTERN = /^[a-z][a-z0-9-]{0,63}$/;

/**
 * CONTRACT.md: one purpose per request from X-Purpose; it must be among the purposes of one of the
 * token's roles (the first role that knows it is used) and among the token's `purposes` claim.
 */
export function resolveCaller(claims: TokenClaims, purposeHeader: string | null, policy: Policy): Caller {
  const knownRoles = claims.roles.filter((role) => policy.roles.has(role));
  if (knownRoles.length === 0) throw new UnauthenticatedError('The token carries no role known to the policy.');

  const purpose = purposeHeader?.trim() ?? '';
  if (purpose === '') throw new PurposeRequiredError();
  // The header is never echoed back: it is caller input and may hold anything.
  if (!PURPOSE_PATTERN.test(purpose) || !policy.purposes.has(purpose)) {
    throw new PurposeNotPermittedError('The declared purpose is not a purpose of this policy.');
  }
  const role = knownRoles.find((r) => policy.roles.get(r)!.purposes.includes(purpose));
  if (role === undefined) {
    throw new PurposeNotPermittedError(`None of the token's roles may declare the purpose "${purpose}".`);
  }
  if (claims.purposes !== undefined && !claims.purposes.includes(purpose)) {
    throw new PurposeNotPermittedError(`The token does not allow the purpose "${purpose}".`);
  }
  const roleScope = policy.roles.get(role)!.scope;
  if (roleScope === 'tenant' && claims.tenant === undefined) {
    throw new UnauthenticatedError(`The role ${role} is tenant-scoped and the token has no "tenant" claim.`);
  }
  const tenantId = roleScope === 'tenant' ? claims.tenant! : null;
  return {
    subject: claims.sub,
    role,
    roleScope,
    purpose,
    tenantId,
    tokenId: claims.jti ?? null,
    scope: scopeFor(roleScope, tenantId, claims.sub),
  };
}

function scopeFor(roleScope: RoleScope, tenantId: string | null, subject: string): DataScope {
  if (roleScope === 'tenant') return { kind: 'tenant', tenantId: tenantId! };
  if (roleScope === 'platform') return { kind: 'platform' };
  // The data subject's own rows; the database grants this scope only what its policies name.
  return { kind: 'person', personId: subject };
}
