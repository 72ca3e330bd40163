import path from 'node:path';
import { ConfigurationError } from './errors.js';

export interface AuthConfig {
  jwksUrl: string | undefined;
  publicKeyFile: string | undefined;
  issuer: string;
  audience: string;
}

export interface Config {
  production: boolean;
  port: number;
  host: string;
  /** The application role's connection; undefined means the embedded PGlite database. */
  databaseUrl: string | undefined;
  /** The owner's connection for migrations and imports. */
  migrateDatabaseUrl: string | undefined;
  appDbPassword: string | undefined;
  dataDir: string;
  auth: AuthConfig;
  policyFile: string;
  demoDataFile: string;
  /** Operations: where /metrics is served, how long a shutdown waits, traces. */
  ops: OpsConfig;
  /** The per-database application role the gateway serves as (APP_DB_ROLE). */
  appDbRole: string;
  /** RETENTION_INTERVAL: run retention inside the gateway this often (ms); undefined = never. */
  retentionIntervalMs: number | undefined;
}

export interface OpsConfig {
  /** A separate port for /metrics; undefined serves it on the gateway's port. */
  metricsPort: number | undefined;
  /** How long SIGTERM waits for in-flight requests before closing their connections. */
  shutdownTimeoutMs: number;
  /** OTLP/HTTP endpoint for traces; undefined means no tracing. */
  otlpEndpoint: string | undefined;
}

const projectRoot = path.resolve(import.meta.dirname, '..');

export const DEV_ISSUER = 'custodian-dev';
export const DEV_AUDIENCE = 'custodian';

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function portFrom(name: string, text: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port > 65535) {
    throw new ConfigurationError(`${name} must be a whole number from 0 to 65535, got "${text}".`);
  }
  return port;
}

/** A span such as 10000, 10000ms, 30s or 1m, in milliseconds. */
function durationFrom(name: string, text: string): number {
  const match = /^(\d+)\s*(ms|s|m)?$/.exec(text);
  if (match === null) throw new ConfigurationError(`${name} must be a duration such as 10s, 500ms or 1m, got "${text}".`);
  const unit = match[2] ?? 'ms';
  return Number(match[1]) * (unit === 'm' ? 60_000 : unit === 's' ? 1000 : 1);
}

// A PostgreSQL role name the migrations can quote and the gateway can SET ROLE to.
const ROLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const port = portFrom('PORT', nonEmpty(env.PORT) ?? '4000');
  const databaseUrl = nonEmpty(env.DATABASE_URL);
  const jwksUrl = nonEmpty(env.AUTH_JWKS_URL);
  const publicKeyFile = nonEmpty(env.AUTH_PUBLIC_KEY_FILE);
  const issuer = nonEmpty(env.AUTH_ISSUER);
  const audience = nonEmpty(env.AUTH_AUDIENCE);
  const metricsPortText = nonEmpty(env.METRICS_PORT);
  const otlpEndpoint = nonEmpty(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) ?? nonEmpty(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (otlpEndpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(otlpEndpoint)) {
    throw new ConfigurationError(`OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got "${otlpEndpoint}".`);
  }
  const appDbRole = nonEmpty(env.APP_DB_ROLE) ?? 'custodian_app';
  if (!ROLE_NAME.test(appDbRole)) {
    throw new ConfigurationError(`APP_DB_ROLE must be a lower-case PostgreSQL role name (letters, digits, _), got "${appDbRole}".`);
  }
  if (jwksUrl && publicKeyFile) {
    throw new ConfigurationError('Set AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE, not both.');
  }
  if (production) {
    const missing = [
      databaseUrl ? null : 'DATABASE_URL',
      jwksUrl || publicKeyFile ? null : 'AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE',
      issuer ? null : 'AUTH_ISSUER',
      audience ? null : 'AUTH_AUDIENCE',
    ].filter((name): name is string => name !== null);
    if (missing.length > 0) {
      throw new ConfigurationError(`NODE_ENV=production requires ${missing.join(', ')}.`);
    }
  }
  return {
    production,
    port,
    host: nonEmpty(env.HOST) ?? (production ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl,
    migrateDatabaseUrl: nonEmpty(env.MIGRATE_DATABASE_URL) ?? databaseUrl,
    appDbPassword: nonEmpty(env.APP_DB_PASSWORD),
    dataDir: path.resolve(nonEmpty(env.DATA_DIR) ?? path.join(projectRoot, '.data')),
    auth: {
      jwksUrl,
      publicKeyFile,
      issuer: issuer ?? DEV_ISSUER,
      audience: audience ?? DEV_AUDIENCE,
    },
    policyFile: path.resolve(nonEmpty(env.POLICY_FILE) ?? path.join(projectRoot, 'schema', 'policy.yaml')),
    demoDataFile: path.join(projectRoot, 'fixtures', 'demo.json'),
    ops: {
      metricsPort: metricsPortText === undefined ? undefined : portFrom('METRICS_PORT', metricsPortText),
      shutdownTimeoutMs: durationFrom('SHUTDOWN_TIMEOUT', nonEmpty(env.SHUTDOWN_TIMEOUT) ?? '10s'),
      otlpEndpoint,
    },
    appDbRole,
    retentionIntervalMs: parseInterval(nonEmpty(env.RETENTION_INTERVAL)),
  };
}

const INTERVAL_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** setInterval's ceiling (about 24.8 days). */
const MAX_INTERVAL_MS = 2 ** 31 - 1;

/** `30m`, `6h`, `1d`: at least a minute, at most 24 days. */
export function parseInterval(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d{1,6})(s|m|h|d)$/.exec(text);
  const ms = match === null ? Number.NaN : Number(match[1]) * INTERVAL_UNITS[match[2]!]!;
  if (!(ms >= 60_000 && ms <= MAX_INTERVAL_MS)) {
    throw new ConfigurationError(`RETENTION_INTERVAL must be a duration such as 30m, 6h or 1d, from 1m to 24d; got "${text}".`);
  }
  return ms;
}

export { projectRoot };
