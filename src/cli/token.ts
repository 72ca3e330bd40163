import { DEV_ALGORITHM, loadOrCreateDevKeys } from '../auth/dev-keys.js';
import { mintToken } from '../auth/mint-token.js';
import { loadConfig } from '../config.js';
import { ConfigurationError } from '../errors.js';
import { loadPolicyFile } from '../policy/policy.js';
import { parseArgs, runCli } from './run-cli.js';

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
    sub: args.get('sub') ?? (role === 'data_subject' ? 'per-1-0001' : `dev-${role}`),
    roles: [role],
    tenant,
    purposes,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    ttl,
  });
  process.stdout.write(`${token}\n`);
});
