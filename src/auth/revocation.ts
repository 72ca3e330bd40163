import type { Kysely } from 'kysely';
import { isRevoked } from '../db/queries/incidents.js';
import type { Database } from '../db/tables.js';
import { isDatabaseUnavailable } from '../db/availability.js';
import { ServiceUnavailableError, TokenRevokedError } from '../errors.js';
import type { TokenVerifier } from './token-verifier.js';

/**
 * Containment: every verified token is checked against the revocations in the database, on
 * every request (one call of custodian_token_revoked: two index probes). No cache, so there is
 * no window in which a token revoked through another gateway process still works: the commit of
 * `revokeAccess` is visible to the very next request anywhere. A database that cannot answer
 * fails the request (closed), never admits it.
 */
export function withRevocationCheck(verifier: TokenVerifier, db: Kysely<Database>): TokenVerifier {
  return {
    async verify(token) {
      const claims = await verifier.verify(token);
      let revoked: boolean;
      try {
        revoked = await isRevoked(db, claims.jti ?? null, claims.sub);
      } catch (error) {
        // Closed, and said as what it is: 503 with Retry-After, never a 500.
        if (isDatabaseUnavailable(error)) throw new ServiceUnavailableError();
        throw error;
      }
      if (revoked) throw new TokenRevokedError();
      return claims;
    },
  };
}
