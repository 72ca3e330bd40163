import fs from 'node:fs';
import { compactVerify, CompactSign, createLocalJWKSet, importJWK, type JWK } from 'jose';
import { loadOrCreateDevKeys } from '../auth/dev-keys.js';
import { readKeyFile } from '../auth/token-verifier.js';
import type { Config } from '../config.js';
import { ConfigurationError } from '../errors.js';
import type { Checkpoint } from './verify-chain.js';

const CHECKPOINT_TYPE = 'custodian-access-log-checkpoint';

interface CheckpointKeys {
  privateJwk: JWK | undefined;
  publicJwks: { keys: JWK[] };
}

/**
 * The checkpoint key: AUDIT_CHECKPOINT_KEY_FILE (a private JWK, for signing) and
 * AUDIT_CHECKPOINT_PUBLIC_KEY_FILE (for verifying); in development, a key pair under DATA_DIR.
 * Keep the private key away from the database host: a checkpoint only helps if whoever can
 * rewrite the database cannot sign.
 */
async function checkpointKeys(config: Config, env: NodeJS.ProcessEnv): Promise<CheckpointKeys> {
  const privateFile = env.AUDIT_CHECKPOINT_KEY_FILE;
  const publicFile = env.AUDIT_CHECKPOINT_PUBLIC_KEY_FILE;
  if (privateFile === undefined && publicFile === undefined) {
    if (config.production) throw new ConfigurationError('Set AUDIT_CHECKPOINT_KEY_FILE (to sign) or AUDIT_CHECKPOINT_PUBLIC_KEY_FILE (to verify).');
    return loadOrCreateDevKeys(config.dataDir, 'audit-checkpoint-keys');
  }
  let privateJwk: JWK | undefined;
  if (privateFile !== undefined) {
    try {
      privateJwk = JSON.parse(fs.readFileSync(privateFile, 'utf8')) as JWK;
    } catch {
      throw new ConfigurationError(`AUDIT_CHECKPOINT_KEY_FILE ${privateFile} must hold a private JWK.`);
    }
  }
  const publicJwks =
    publicFile !== undefined
      ? { keys: (await readKeyFile(publicFile)).keys }
      : { keys: [publicHalf(privateJwk!)] };
  return { privateJwk, publicJwks };
}

function publicHalf(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = jwk;
  return publicJwk;
}

/** Signs the chain head as a compact JWS. */
export async function signCheckpoint(config: Config, head: { seq: string; hash: string }, env = process.env): Promise<string> {
  const keys = await checkpointKeys(config, env);
  if (keys.privateJwk === undefined) throw new ConfigurationError('Signing a checkpoint needs AUDIT_CHECKPOINT_KEY_FILE.');
  const alg = keys.privateJwk.alg ?? (keys.privateJwk.kty === 'RSA' ? 'RS256' : keys.privateJwk.kty === 'OKP' ? 'EdDSA' : 'ES256');
  const payload: Checkpoint & { typ: string } = { typ: CHECKPOINT_TYPE, seq: head.seq, hash: head.hash, at: new Date().toISOString() };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg, ...(keys.privateJwk.kid === undefined ? {} : { kid: keys.privateJwk.kid }) })
    .sign(await importJWK(keys.privateJwk, alg));
}

/** Verifies a checkpoint's signature and returns what it vouches for. */
export async function readCheckpoint(config: Config, jws: string, env = process.env): Promise<Checkpoint> {
  const keys = await checkpointKeys(config, env);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws.trim(), createLocalJWKSet(keys.publicJwks), { algorithms: ['ES256', 'RS256', 'EdDSA'] }));
  } catch {
    throw new ConfigurationError('The checkpoint signature does not verify: it was not signed by the checkpoint key, or was altered.');
  }
  const parsed = JSON.parse(new TextDecoder().decode(payload)) as Partial<Checkpoint> & { typ?: string };
  if (parsed.typ !== CHECKPOINT_TYPE || typeof parsed.seq !== 'string' || typeof parsed.hash !== 'string' || typeof parsed.at !== 'string') {
    throw new ConfigurationError('The file is not an access-log checkpoint.');
  }
  return { seq: parsed.seq, hash: parsed.hash, at: parsed.at };
}
