import { randomUUID } from 'node:crypto';
import { importJWK, SignJWT, type CryptoKey, type JWK, type KeyObject } from 'jose';

export interface TokenRequest {
  sub: string;
  roles: string[];
  tenant?: string | undefined;
  purposes?: string[] | undefined;
  issuer: string;
  audience: string;
  /** jose time span such as "1h", "15m", "30s". */
  ttl: string;
  jti?: string | undefined;
}

/** Signs a token the way the gateway verifies it (asymmetric key, iss, aud, exp, jti). */
export async function mintToken(key: JWK | CryptoKey | KeyObject, alg: string, request: TokenRequest): Promise<string> {
  const signingKey = 'kty' in key ? await importJWK(key as JWK, alg) : key;
  const claims: Record<string, unknown> = { roles: request.roles };
  if (request.tenant !== undefined) claims.tenant = request.tenant;
  if (request.purposes !== undefined) claims.purposes = request.purposes;
  const kid = 'kty' in key ? (key as JWK).kid : undefined;
  return new SignJWT(claims)
    .setProtectedHeader({ alg, ...(kid === undefined ? {} : { kid }), typ: 'JWT' })
    .setSubject(request.sub)
    .setIssuer(request.issuer)
    .setAudience(request.audience)
    .setIssuedAt()
    .setExpirationTime(request.ttl)
    .setJti(request.jti ?? randomUUID())
    .sign(signingKey as CryptoKey);
}
