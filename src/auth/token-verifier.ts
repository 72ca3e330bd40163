import crypto from 'node:crypto';
import fs from 'node:fs';
import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import type { AuthConfig } from '../config.js';
import { ConfigurationError, UnauthenticatedError } from '../errors.js';
import { tokenClaimsSchema, type TokenClaims } from './claims.js';

/** Asymmetric only: a symmetric algorithm would let anyone holding the public key mint tokens. */
export const ALLOWED_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;

export interface TokenVerifier {
  /** Returns the verified claims, or throws UnauthenticatedError. */
  verify(token: string): Promise<TokenClaims>;
}

export async function createTokenVerifier(auth: AuthConfig, devJwks?: { keys: JWK[] }): Promise<TokenVerifier> {
  const keys = await keySource(auth, devJwks);
  return {
    async verify(token) {
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: auth.issuer,
          audience: auth.audience,
          algorithms: [...ALLOWED_ALGORITHMS],
          requiredClaims: ['exp', 'iat', 'iss', 'aud', 'sub'],
          // jose refuses an `iat` older than the maximum age, or later than now + tolerance.
          maxTokenAge: auth.maxTokenAgeSeconds,
          clockTolerance: auth.clockToleranceSeconds,
        }));
      } catch (error) {
        throw new UnauthenticatedError(describeJoseFailure(error));
      }
      // A token may not outlive the maximum age either: an `exp` a century ahead is refused now,
      // not in 24 hours when its `iat` gets old.
      const { exp } = payload as { exp: number };
      if (exp > Math.floor(Date.now() / 1000) + auth.maxTokenAgeSeconds + auth.clockToleranceSeconds) {
        throw new UnauthenticatedError(`The token's "exp" claim is further ahead than the maximum token age allows.`);
      }
      const claims = tokenClaimsSchema.safeParse(payload);
      if (!claims.success) {
        const claim = claims.error.issues[0]?.path[0];
        throw new UnauthenticatedError(`The token's "${String(claim)}" claim is missing or malformed.`);
      }
      return claims.data;
    },
  };
}

async function keySource(auth: AuthConfig, devJwks: { keys: JWK[] } | undefined): Promise<JWTVerifyGetKey> {
  if (auth.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(auth.jwksUrl);
    } catch {
      throw new ConfigurationError('AUTH_JWKS_URL is not a valid URL.');
    }
    return createRemoteJWKSet(url, { timeoutDuration: 5000, cooldownDuration: 30_000 });
  }
  if (auth.publicKeyFile !== undefined) {
    const { keys, fromPem } = await readKeyFile(auth.publicKeyFile);
    const local = createLocalJWKSet({ keys });
    // A PEM file names no kid, so a token's kid cannot select from it; the algorithm allow-list
    // and the key type still do.
    return fromPem ? (header, token) => local({ ...header, kid: undefined }, token) : local;
  }
  if (devJwks !== undefined) return createLocalJWKSet(devJwks);
  throw new ConfigurationError('No token key source: set AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE.');
}

/** A PEM public key, a JWK, or a JWKS. Keys without a kid get their RFC 7638 thumbprint. */
export async function readKeyFile(file: string): Promise<{ keys: JWK[]; fromPem: boolean }> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new ConfigurationError(`AUTH_PUBLIC_KEY_FILE ${file} cannot be read.`);
  }
  let jwks: JWK[];
  const fromPem = text.includes('-----BEGIN');
  if (fromPem) {
    // createPublicKey would quietly derive the public half of a private key; a private key has no
    // business on the gateway, so it is refused rather than used.
    if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
      throw new ConfigurationError(`AUTH_PUBLIC_KEY_FILE ${file} holds a private key; give the gateway the public key only.`);
    }
    let key: crypto.KeyObject;
    try {
      key = crypto.createPublicKey(text);
    } catch {
      throw new ConfigurationError(`AUTH_PUBLIC_KEY_FILE ${file} holds no readable public key.`);
    }
    jwks = [key.export({ format: 'jwk' }) as JWK];
  } else {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ConfigurationError(`AUTH_PUBLIC_KEY_FILE ${file} is neither PEM nor JSON.`);
    }
    const candidate = parsed as { keys?: unknown };
    jwks = Array.isArray(candidate.keys) ? (candidate.keys as JWK[]) : [parsed as JWK];
  }
  for (const jwk of jwks) {
    if (jwk.kty === 'oct' || 'd' in jwk) {
      throw new ConfigurationError(`AUTH_PUBLIC_KEY_FILE ${file} must hold only public asymmetric keys.`);
    }
  }
  return {
    keys: await Promise.all(jwks.map(async (jwk) => ({ ...jwk, kid: jwk.kid ?? (await calculateJwkThumbprint(jwk)) }))),
    fromPem,
  };
}

function describeJoseFailure(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) {
    return error.claim === 'iat' ? 'The token is older than the maximum token age.' : 'The token has expired.';
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return `The token's "${error.claim}" claim is missing or not accepted.`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return `The token's algorithm is not allowed; use ${ALLOWED_ALGORITHMS.join(', ')}.`;
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'No known key matches the token.';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'The token signature is invalid.';
  return 'The token could not be verified.';
}
