import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { mintToken } from '../../src/auth/mint-token.js';
import type { AuthConfig } from '../../src/config.js';

export const TEST_ISSUER = 'https://issuer.test.custodian';
export const TEST_AUDIENCE = 'custodian-gateway';
export const TEST_KID = 'test-key-1';

export interface TestKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicPem: string;
  publicJwk: JWK;
  /** A file holding the public key as PEM, for AUTH_PUBLIC_KEY_FILE. */
  publicKeyFile: string;
  /** A file holding the public key as a JWKS with kid TEST_KID. */
  jwksFile: string;
  auth: AuthConfig;
  /** Signs RS256 with kid TEST_KID, as a production issuer would. */
  sign(claims: TokenClaimsInput): Promise<string>;
}

export interface TokenClaimsInput {
  sub?: string;
  roles: string[];
  tenant?: string;
  purposes?: string[];
  ttl?: string;
  jti?: string;
  issuer?: string;
  audience?: string;
}

export async function createTestKeys(): Promise<TestKeys> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const publicPem = await exportSPKI(publicKey);
  const publicJwk = { ...(await exportJWK(publicKey)), kid: TEST_KID, alg: 'RS256', use: 'sig' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-keys-'));
  const publicKeyFile = path.join(dir, 'public.pem');
  const jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(publicKeyFile, publicPem);
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [publicJwk] }));
  const privateJwk = { ...(await exportJWK(privateKey)), kid: TEST_KID };
  return {
    privateKey,
    publicKey,
    publicPem,
    publicJwk,
    publicKeyFile,
    jwksFile,
    auth: { jwksUrl: undefined, publicKeyFile: jwksFile, issuer: TEST_ISSUER, audience: TEST_AUDIENCE, maxTokenAgeSeconds: 86_400, clockToleranceSeconds: 30 },
    sign: (claims) =>
      mintToken(privateJwk, 'RS256', {
        sub: claims.sub ?? 'test-user',
        roles: claims.roles,
        tenant: claims.tenant,
        purposes: claims.purposes,
        issuer: claims.issuer ?? TEST_ISSUER,
        audience: claims.audience ?? TEST_AUDIENCE,
        ttl: claims.ttl ?? '5m',
        jti: claims.jti,
      }),
  };
}
