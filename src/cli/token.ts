import fs from 'node:fs';
import path from 'node:path';
import { DEV_ALGORITHM, loadOrCreateDevKeys } from '../auth/dev-keys.js';
import { mintToken } from '../auth/mint-token.js';
import { loadConfig } from '../config.js';
import { ConfigurationError } from '../errors.js';
import { loadPolicyFile } from '../policy/policy.js';
import { parseArgs, runCli } from './run-cli.js';
import type { Config } from '../config.js';
import { openDatabase, type DatabaseHandle } from '../db/database.js';
import { subjectsExist } from '../db/queries/token-subjects.js';

const USAGE = 'Usage: npm run token -- --role R [--tenant T] [--purposes a,b] [--sub S] [--ttl 1h]';

runCli(async () => {
  const args = parseArgs(process.argv.slice(2), { role: 'value', tenant: 'value', purposes: 'value', sub: 'value', ttl: 'value' });
  const config = loadConfig();
  if (config.production) throw new ConfigurationError('npm run token mints development tokens only; production tokens come from your issuer.');
  const policy = loadPolicyFile(config.policyFile);
  const role = args.get('role');
  if (role === undefined) throw new ConfigurationError(USAGE);
  const rolePolicy = policy.roles.get(role);
  if (rolePolicy === undefined) throw new ConfigurationError(`Unknown role "${role}". Roles: ${[...policy.roles.keys()].join(', ')}.`);
  const tenant = args.get('tenant');
  if (rolePolicy.scope === 'tenant' && tenant === undefined) throw new ConfigurationError(`Role ${role} is tenant-scoped: add --tenant T.`);
  const purposes = args.get('purposes')?.split(',').map((p) => p.trim()).filter((p) => p !== '');
  for (const purpose of purposes ?? []) {
    if (!rolePolicy.purposes.includes(purpose)) {
      throw new ConfigurationError(`Role ${role} cannot declare "${purpose}". Its purposes: ${rolePolicy.purposes.join(', ')}.`);
    }
  }
  const sub = args.get('sub');
  if (role === 'data_subject' && sub === undefined) {
    throw new ConfigurationError('Role data_subject is one person: add --sub PERSON_ID (a people[].id of the imported data, such as per-1-0002).');
  }
  await checkAgainstDatabase(config, rolePolicy.scope === 'tenant' ? tenant : undefined, role === 'data_subject' ? sub : undefined);
  const ttl = args.get('ttl') ?? '1h';
  const span = /^(\d+)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days)$/.exec(ttl);
  if (span === null) throw new ConfigurationError('--ttl takes a span such as 30s, 15m, 1h or 7d.');
  const seconds = Number(span[1]) * ({ s: 1, m: 60, h: 3600, d: 86_400 } as Record<string, number>)[span[2]![0]!]!;
  if (seconds > config.auth.maxTokenAgeSeconds) {
    throw new ConfigurationError(`--ttl ${ttl} is longer than the gateway accepts (AUTH_MAX_TOKEN_AGE, ${config.auth.maxTokenAgeSeconds} s).`);
  }
  if (config.auth.jwksUrl !== undefined || config.auth.publicKeyFile !== undefined) {
    process.stderr.write('Note: AUTH_JWKS_URL/AUTH_PUBLIC_KEY_FILE is set, so the gateway will not accept this development token.\n');
  }
  const keys = await loadOrCreateDevKeys(config.dataDir);
  const token = await mintToken(keys.privateJwk, DEV_ALGORITHM, {
    sub: sub ?? `dev-${role}`,
    roles: [role],
    tenant,
    purposes,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    ttl,
  });
  process.stdout.write(`${token}\n`);
});

/**
 * A token for a tenant or person that does not exist would only ever be answered "not found":
 * refuse it here when the database can be read (DATABASE_URL, or the embedded database while no
 * server holds it); otherwise say that it was not checked.
 */
async function checkAgainstDatabase(config: Config, tenant: string | undefined, person: string | undefined): Promise<void> {
  if (tenant === undefined && person === undefined) return;
  const what = [tenant === undefined ? null : `tenant "${tenant}"`, person === undefined ? null : `person "${person}"`].filter(Boolean).join(' and ');
  let database: DatabaseHandle | undefined;
  try {
    if (config.databaseUrl !== undefined) database = await openDatabase({ url: config.databaseUrl, poolSize: 1 });
    else if (fs.existsSync(path.join(config.dataDir, 'pglite', 'PG_VERSION'))) database = await openDatabase({ dataDir: config.dataDir });
    else {
      process.stderr.write(`Note: no database yet in ${config.dataDir}, so ${what} was not checked.\n`);
      return;
    }
    const found = await subjectsExist(database.db, { tenant, person });
    if (found.tenant === false) throw new ConfigurationError(`No tenant "${tenant}" in the database.`);
    if (found.person === false) throw new ConfigurationError(`No person "${person}" in the database.`);
  } catch (error) {
    if (error instanceof ConfigurationError && error.message.startsWith('No ')) throw error;
    const why = error instanceof ConfigurationError && error.message.includes('in use by process') ? 'the embedded database is in use by the running server' : 'the database could not be read';
    process.stderr.write(`Note: ${why}, so ${what} was not checked.\n`);
  } finally {
    await database?.close();
  }
}
