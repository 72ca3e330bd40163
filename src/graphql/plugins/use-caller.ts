import type { Plugin } from 'graphql-yoga';
import { resolveCaller, type Caller } from '../../auth/caller.js';
import type { TokenClaims } from '../../auth/claims.js';
import type { TokenVerifier } from '../../auth/token-verifier.js';
import { UnauthenticatedError } from '../../errors.js';
import type { AccessDecision } from '../../policy/access-decision.js';
import type { Policy } from '../../policy/policy.js';

export interface CallerOptions {
  verifier: TokenVerifier;
  policy: Policy;
  decide: (role: string, purpose: string) => AccessDecision;
  /**
   * Runs once the token is verified and before its purpose is resolved, so that what it refuses
   * (rate limits) also covers requests whose purpose would be refused.
   */
  admit?: (claims: TokenClaims) => Promise<void>;
}

interface ResolvedCaller {
  caller: Caller;
  decision: AccessDecision;
}

const resolved = new WeakMap<Request, ResolvedCaller>();
const verified = new WeakMap<Request, TokenClaims>();

/** The verified claims of a request, even when its purpose was then refused (for the access log). */
export function verifiedClaimsOf(request: Request): TokenClaims | undefined {
  return verified.get(request);
}

/** The caller, when the request got that far. */
export function resolvedCallerOf(request: Request): ResolvedCaller | undefined {
  return resolved.get(request);
}

/** The caller and decision of a request, once useCaller has admitted it. */
export function callerOf(request: Request): ResolvedCaller {
  const entry = resolved.get(request);
  // Unreachable when useCaller runs first; refusing here keeps the default at deny.
  if (entry === undefined) throw new UnauthenticatedError();
  return entry;
}

// RFC 7235: the scheme name is case-insensitive.
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/i;

/**
 * Authenticates every GraphQL request before it is parsed: a verified token and a permitted
 * purpose, or the request is refused as a whole (401/403). The policy's decision for the caller's
 * role and purpose is taken here, once, for validation and resolvers to share.
 */
export function useCaller(options: CallerOptions): Plugin<{ caller: Caller; decision: AccessDecision }> {
  return {
    async onRequestParse({ request }) {
      const header = request.headers.get('authorization');
      if (header === null || header.trim() === '') throw new UnauthenticatedError('A bearer token is required.');
      const match = BEARER.exec(header.trim());
      if (match === null) throw new UnauthenticatedError('The Authorization header must be "Bearer <JWT>".');
      const claims = await options.verifier.verify(match[1]!);
      verified.set(request, claims);
      await options.admit?.(claims);
      const caller = resolveCaller(claims, request.headers.get('x-purpose'), options.policy);
      resolved.set(request, { caller, decision: options.decide(caller.role, caller.purpose) });
    },
    onContextBuilding({ context, extendContext }) {
      extendContext(callerOf(context.request));
    },
  };
}
