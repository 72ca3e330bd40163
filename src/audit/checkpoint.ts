import fs from 'node:fs';
import { compactVerify, CompactSign, createLocalJWKSet, importJWK, type JWK } from 'jose';
import { loadOrCreateDevKeys } from '../auth/dev-keys.js';
import { readKeyFile } from '../auth/token-verifier.js';
import type { Config } from '../config.js';
import { ConfigurationError } from '../errors.js';
import { canonicalHeads, isChainHeads, type ChainHead } from './chains.js';
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

/**
 * Signs every chain's head as a compact JWS: `{typ, heads: [{chain, link, hash}], at}` (and, for
 * a retention cut, the entries at or before the cut that it kept).
 */
export async function signCheckpoint(
  config: Config,
  heads: readonly ChainHead[],
  env = process.env,
  kept?: readonly ChainHead[],
): Promise<string> {
  const keys = await checkpointKeys(config, env);
  if (keys.privateJwk === undefined) throw new ConfigurationError('Signing a checkpoint needs AUDIT_CHECKPOINT_KEY_FILE.');
  const alg = keys.privateJwk.alg ?? (keys.privateJwk.kty === 'RSA' ? 'RS256' : keys.privateJwk.kty === 'OKP' ? 'EdDSA' : 'ES256');
  const payload = {
    typ: CHECKPOINT_TYPE,
    heads: canonicalHeads(heads),
    ...(kept === undefined ? {} : { kept: kept.map(({ chain, link, hash }) => ({ chain, link, hash })) }),
    at: new Date().toISOString(),
  };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg, ...(keys.privateJwk.kid === undefined ? {} : { kid: keys.privateJwk.kid }) })
    .sign(await importJWK(keys.privateJwk, alg));
}

/**
 * Verifies a checkpoint's signature and returns what it vouches for. A checkpoint signed before
 * the log had chains (`{seq, hash}`) vouches for chain 0 at link seq: that is what it was.
 */
export async function readCheckpoint(config: Config, jws: string, env = process.env): Promise<Checkpoint> {
  const keys = await checkpointKeys(config, env);
  let payload: Uint8Array;
  try {
    ({ payload } = await compactVerify(jws.trim(), createLocalJWKSet(keys.publicJwks), { algorithms: ['ES256', 'RS256', 'EdDSA'] }));
  } catch {
    throw new ConfigurationError('The checkpoint signature does not verify: it was not signed by the checkpoint key, or was altered.');
  }
  const parsed = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  const notACheckpoint = new ConfigurationError('The file is not an access-log checkpoint.');
  if (parsed.typ !== CHECKPOINT_TYPE || typeof parsed.at !== 'string') throw notACheckpoint;
  if (parsed.heads === undefined && typeof parsed.seq === 'string' && typeof parsed.hash === 'string') {
    const heads = [{ chain: 0, link: parsed.seq, hash: parsed.hash }];
    if (!isChainHeads(heads)) throw notACheckpoint;
    return { heads, at: parsed.at };
  }
  if (!isChainHeads(parsed.heads)) throw notACheckpoint;
  if (parsed.kept === undefined) return { heads: canonicalHeads(parsed.heads), at: parsed.at };
  if (!isChainHeads(parsed.kept, { unique: false })) throw notACheckpoint;
  return { heads: canonicalHeads(parsed.heads), at: parsed.at, kept: parsed.kept };
}
