import fs from 'node:fs';
import path from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';

export const DEV_ALGORITHM = 'ES256';

export interface DevKeys {
  privateJwk: JWK;
  publicJwks: { keys: JWK[] };
}

function devKeyPaths(dataDir: string, folder: string) {
  const dir = path.join(dataDir, folder);
  return { dir, privateFile: path.join(dir, 'signing-key.private.jwk.json'), publicFile: path.join(dir, 'jwks.json') };
}

/**
 * Development only: a signing key pair kept under DATA_DIR so that `npm run token` and the
 * server agree without any set-up. Production refuses to start without a real key source.
 */
export async function loadOrCreateDevKeys(dataDir: string, folder = 'dev-keys'): Promise<DevKeys> {
  const { dir, privateFile, publicFile } = devKeyPaths(dataDir, folder);
  if (fs.existsSync(privateFile) && fs.existsSync(publicFile)) {
    return {
      privateJwk: JSON.parse(fs.readFileSync(privateFile, 'utf8')) as JWK,
      publicJwks: JSON.parse(fs.readFileSync(publicFile, 'utf8')) as { keys: JWK[] },
    };
  }
  const { publicKey, privateKey } = await generateKeyPair(DEV_ALGORITHM, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const meta = { kid, alg: DEV_ALGORITHM, use: 'sig' };
  const keys: DevKeys = {
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwks: { keys: [{ ...publicJwk, ...meta }] },
  };
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(privateFile, JSON.stringify(keys.privateJwk, null, 2), { mode: 0o600 });
  fs.writeFileSync(publicFile, JSON.stringify(keys.publicJwks, null, 2));
  return keys;
}

