import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, exportPKCS8, generateKeyPair, generateSecret, type JWK } from 'jose';
import { loadConfig } from '../src/config.js';
import { ConfigurationError } from '../src/errors.js';
import { createTokenVerifier, readKeyFile } from '../src/auth/token-verifier.js';

const PRODUCTION_ENV: NodeJS.ProcessEnv = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://custodian_app@db.internal:5432/custodian',
  AUTH_JWKS_URL: 'https://issuer.example/.well-known/jwks.json',
  AUTH_ISSUER: 'https://issuer.example',
  AUTH_AUDIENCE: 'custodian',
};

function configurationError(env: NodeJS.ProcessEnv): ConfigurationError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return error as ConfigurationError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('loads a complete production environment (control)', () => {
    const config = loadConfig(PRODUCTION_ENV);
    expect(config.production).toBe(true);
    expect(config.auth).toEqual({
      jwksUrl: PRODUCTION_ENV.AUTH_JWKS_URL,
      publicKeyFile: undefined,
      issuer: 'https://issuer.example',
      audience: 'custodian',
      maxTokenAgeSeconds: 86_400,
      clockToleranceSeconds: 30,
    });
    expect(config.host).toBe('0.0.0.0');
  });

  it('names everything production is missing', () => {
    const error = configurationError({ NODE_ENV: 'production' });
    for (const name of ['DATABASE_URL', 'AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE', 'AUTH_ISSUER', 'AUTH_AUDIENCE']) {
      expect(error.message).toContain(name);
    }
  });

  it.each(['DATABASE_URL', 'AUTH_JWKS_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE'])(
    'refuses production without %s, and names only it',
    (name) => {
      const error = configurationError({ ...PRODUCTION_ENV, [name]: undefined });
      expect(error.message).toContain(name);
      const others = ['DATABASE_URL', 'AUTH_ISSUER', 'AUTH_AUDIENCE'].filter((other) => other !== name);
      for (const other of others) expect(error.message).not.toContain(other);
    },
  );

  it('treats a blank value as missing in production', () => {
    const error = configurationError({ ...PRODUCTION_ENV, AUTH_ISSUER: '   ' });
    expect(error.message).toContain('AUTH_ISSUER');
  });

  it('accepts a public key file instead of a JWKS URL in production', () => {
    const config = loadConfig({ ...PRODUCTION_ENV, AUTH_JWKS_URL: undefined, AUTH_PUBLIC_KEY_FILE: '/etc/custodian/issuer.pem' });
    expect(config.auth.publicKeyFile).toBe('/etc/custodian/issuer.pem');
  });

  it.each([{ NODE_ENV: 'production' }, { NODE_ENV: 'development' }, {}])(
    'refuses both AUTH_JWKS_URL and AUTH_PUBLIC_KEY_FILE (%j)',
    (extra) => {
      const error = configurationError({ ...PRODUCTION_ENV, ...extra, AUTH_PUBLIC_KEY_FILE: '/etc/custodian/issuer.pem' });
      expect(error.message).toContain('AUTH_JWKS_URL');
      expect(error.message).toContain('AUTH_PUBLIC_KEY_FILE');
    },
  );

  it.each(['abc', '-1', '65536', '70000', '4000.5', '1e3x'])('refuses PORT=%s', (port) => {
    expect(configurationError({ PORT: port }).message).toContain('PORT');
  });

  it.each([
    ['0', 0],
    ['8080', 8080],
    ['65535', 65535],
  ])('accepts PORT=%s', (text, port) => {
    expect(loadConfig({ PORT: text }).port).toBe(port);
  });

  it('falls back to the development issuer and audience outside production only', () => {
    const config = loadConfig({});
    expect(config.production).toBe(false);
    expect(config.host).toBe('127.0.0.1');
    expect(config.auth.jwksUrl).toBeUndefined();
    expect(config.auth.publicKeyFile).toBeUndefined();
  });
});

describe('readKeyFile', () => {
  let dir: string;
  let rsa: { publicPem: string; privatePem: string; publicJwk: JWK; privateJwk: JWK };

  const write = (name: string, content: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, content);
    return file;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-config-'));
    const pair = await generateKeyPair('RS256', { extractable: true });
    const publicPem = crypto.KeyObject.from(pair.publicKey).export({ type: 'spki', format: 'pem' }).toString();
    rsa = {
      publicPem,
      privatePem: await exportPKCS8(pair.privateKey),
      publicJwk: { ...(await exportJWK(pair.publicKey)), kid: 'k1' },
      privateJwk: { ...(await exportJWK(pair.privateKey)), kid: 'k1' },
    };
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads a public PEM and gives it its thumbprint as kid (control)', async () => {
    const { keys } = await readKeyFile(write('public.pem', rsa.publicPem));
    expect(keys).toHaveLength(1);
    expect(keys[0]?.kty).toBe('RSA');
    expect(keys[0]).not.toHaveProperty('d');
    expect(keys[0]?.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('reads a JWKS and keeps its kids (control)', async () => {
    const { keys } = await readKeyFile(write('jwks.json', JSON.stringify({ keys: [rsa.publicJwk] })));
    expect(keys.map((key) => key.kid)).toEqual(['k1']);
  });

  it('refuses a PKCS#8 private key PEM', async () => {
    await expect(readKeyFile(write('private.pem', rsa.privatePem))).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('refuses a PKCS#1 RSA private key PEM', async () => {
    const pkcs1 = crypto.createPrivateKey(rsa.privatePem).export({ type: 'pkcs1', format: 'pem' }).toString();
    await expect(readKeyFile(write('private-rsa.pem', pkcs1))).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('refuses a private JWK, alone or inside a JWKS', async () => {
    await expect(readKeyFile(write('private.jwk', JSON.stringify(rsa.privateJwk)))).rejects.toBeInstanceOf(ConfigurationError);
    await expect(
      readKeyFile(write('mixed.jwks', JSON.stringify({ keys: [rsa.publicJwk, rsa.privateJwk] }))),
    ).rejects.toBeInstanceOf(ConfigurationError);
  });

  it("refuses an HMAC ('oct') JWK, alone or inside a JWKS", async () => {
    const oct = await exportJWK(await generateSecret('HS256', { extractable: true }));
    expect(oct.kty).toBe('oct');
    await expect(readKeyFile(write('oct.jwk', JSON.stringify(oct)))).rejects.toBeInstanceOf(ConfigurationError);
    await expect(readKeyFile(write('oct.jwks', JSON.stringify({ keys: [rsa.publicJwk, oct] })))).rejects.toBeInstanceOf(
      ConfigurationError,
    );
  });

  it('refuses a file that is neither PEM nor JSON, and one that does not exist', async () => {
    await expect(readKeyFile(write('junk.txt', 'not a key'))).rejects.toBeInstanceOf(ConfigurationError);
    await expect(readKeyFile(path.join(dir, 'absent.pem'))).rejects.toBeInstanceOf(ConfigurationError);
  });
});

describe('createTokenVerifier key source', () => {
  const auth = { jwksUrl: undefined, publicKeyFile: undefined, issuer: 'iss', audience: 'aud', maxTokenAgeSeconds: 86_400, clockToleranceSeconds: 30 };

  it('refuses to start without any key source', async () => {
    await expect(createTokenVerifier(auth)).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('refuses a JWKS URL that is not a URL', async () => {
    await expect(createTokenVerifier({ ...auth, jwksUrl: 'not a url' })).rejects.toBeInstanceOf(ConfigurationError);
  });
});
