import path from 'node:path';
import { ConfigurationError } from './errors.js';

export interface AuthConfig {
  jwksUrl: string | undefined;
  publicKeyFile: string | undefined;
  issuer: string;
  audience: string;
  /** Oldest accepted token (from its `iat`), and furthest accepted `exp`, in seconds. */
  maxTokenAgeSeconds: number;
  /** Clock skew tolerated between the issuer and the gateway, in seconds. */
  clockToleranceSeconds: number;
}

/** Operation limits checked before execution (QUERY_TOO_COMPLEX). */
export interface OperationLimits {
  depth: number;
  aliases: number;
  tokens: number;
  directives: number;
  /** Estimated cost: every field 1, list sizes (`first`) multiplied through nesting. */
  cost: number;
  /** Size of a request body, in bytes. */
  bodyBytes: number;
}

export type RateLimitStoreKind = 'memory' | 'postgres' | 'redis';

export interface RateLimitConfig {
  /** Requests per minute per token subject; 0 turns the limit off. */
  subjectPerMinute: number;
  tenantPerMinute: number;
  store: RateLimitStoreKind;
  redisUrl: string | undefined;
}

export interface DatabaseLimits {
  poolSize: number;
  /** Longest wait for a pool connection before SERVICE_UNAVAILABLE, in milliseconds. */
  poolTimeoutMs: number;
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
  /** Prepare each statement text once per connection (PostgreSQL); off behind a pooler that cannot. */
  preparedStatements: boolean;
}

export interface TrustedDocumentsConfig {
  /** JSON object of document id (e.g. its sha256) to document text. */
  file: string | undefined;
  /** Roles that may send only trusted documents; '*' means every role. */
  onlyForRoles: readonly string[];
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
  limits: OperationLimits;
  rateLimit: RateLimitConfig;
  databaseLimits: DatabaseLimits;
  /** Origins allowed cross-origin access; empty = none (no CORS headers at all). */
  corsOrigins: readonly string[];
  trustedDocuments: TrustedDocumentsConfig;
}

export interface OpsConfig {
  /** A separate port for /metrics; undefined serves it on the gateway's port. */
  metricsPort: number | undefined;
  /** How long SIGTERM waits for in-flight requests before closing their connections. */
  shutdownTimeoutMs: number;
  /** OTLP/HTTP endpoint for traces; undefined means no tracing. */
  otlpEndpoint: string | undefined;
}

export const DEFAULT_OPERATION_LIMITS: OperationLimits = {
  depth: 12,
  aliases: 30,
  tokens: 2_000,
  directives: 20,
  cost: 1_000_000,
  bodyBytes: 256 * 1024,
};

export const DEFAULT_RATE_LIMIT: RateLimitConfig = {
  subjectPerMinute: 600,
  tenantPerMinute: 3_000,
  store: 'memory',
  redisUrl: undefined,
};

export const DEFAULT_DATABASE_LIMITS: DatabaseLimits = {
  poolSize: 10,
  poolTimeoutMs: 5_000,
  statementTimeoutMs: 15_000,
  idleInTransactionTimeoutMs: 15_000,
  preparedStatements: true,
};

export const DEFAULT_MAX_TOKEN_AGE_SECONDS = 24 * 60 * 60;
export const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

const projectRoot = path.resolve(import.meta.dirname, '..');

export const DEV_ISSUER = 'custodian-dev';
export const DEV_AUDIENCE = 'custodian';

const DURATION = /^(\d{1,9})\s*(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `500ms`, `30s`, `15m`, `24h`, `7d`; a bare number is seconds. */
export function parseDuration(name: string, value: string | undefined, fallbackMs: number): number {
  const text = nonEmpty(value);
  if (text === undefined) return fallbackMs;
  const match = DURATION.exec(text);
  if (match === null) throw new ConfigurationError(`${name} must be a duration such as 500ms, 30s, 15m or 24h, got "${text}".`);
  return Number(match[1]) * UNIT_MS[match[2] ?? 's']!;
}

/** A whole number within [min, max]. */
export function parseCount(name: string, value: string | undefined, fallback: number, min = 0, max = 1_000_000_000): number {
  const text = nonEmpty(value);
  if (text === undefined) return fallback;
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new ConfigurationError(`${name} must be a whole number from ${min} to ${max}, got "${text}".`);
  }
  return Number(text);
}

/** on/off (also true/false, 1/0). */
export function parseSwitch(name: string, value: string | undefined, fallback: boolean): boolean {
  const text = nonEmpty(value)?.toLowerCase();
  if (text === undefined) return fallback;
  if (['on', 'true', '1'].includes(text)) return true;
  if (['off', 'false', '0'].includes(text)) return false;
  throw new ConfigurationError(`${name} must be on or off, got "${value}".`);
}

function list(value: string | undefined): string[] {
  return (nonEmpty(value) ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function corsOriginsOf(value: string | undefined): string[] {
  return list(value).map((origin) => {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigurationError(`CORS_ORIGINS must list origins such as https://dashboard.example, got "${origin}".`);
    }
    if (!['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin.replace(/\/$/, '')) {
      throw new ConfigurationError(`CORS_ORIGINS must list bare origins (scheme://host[:port]), got "${origin}".`);
    }
    return parsed.origin;
  });
}

function rateLimitStoreOf(env: NodeJS.ProcessEnv, redisUrl: string | undefined): RateLimitStoreKind {
  const named = nonEmpty(env.RATE_LIMIT_STORE);
  if (named === undefined) return redisUrl === undefined ? 'memory' : 'redis';
  if (named !== 'memory' && named !== 'postgres' && named !== 'redis') {
    throw new ConfigurationError(`RATE_LIMIT_STORE must be memory, postgres or redis, got "${named}".`);
  }
  if (named === 'redis' && redisUrl === undefined) throw new ConfigurationError('RATE_LIMIT_STORE=redis needs REDIS_URL.');
  return named;
}

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
  if (nonEmpty(env.RATE_LIMIT_STORE) === 'postgres' && databaseUrl === undefined) {
    throw new ConfigurationError('RATE_LIMIT_STORE=postgres needs DATABASE_URL (the embedded database serves one process only).');
  }
  if (nonEmpty(env.TRUSTED_DOCUMENTS_ONLY_ROLES) !== undefined && nonEmpty(env.TRUSTED_DOCUMENTS_FILE) === undefined) {
    throw new ConfigurationError('TRUSTED_DOCUMENTS_ONLY_ROLES needs TRUSTED_DOCUMENTS_FILE.');
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
      maxTokenAgeSeconds: parseDuration('AUTH_MAX_TOKEN_AGE', env.AUTH_MAX_TOKEN_AGE, DEFAULT_MAX_TOKEN_AGE_SECONDS * 1000) / 1000,
      clockToleranceSeconds: parseDuration('AUTH_CLOCK_TOLERANCE', env.AUTH_CLOCK_TOLERANCE, DEFAULT_CLOCK_TOLERANCE_SECONDS * 1000) / 1000,
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
    limits: {
      depth: parseCount('MAX_QUERY_DEPTH', env.MAX_QUERY_DEPTH, DEFAULT_OPERATION_LIMITS.depth, 1),
      aliases: parseCount('MAX_QUERY_ALIASES', env.MAX_QUERY_ALIASES, DEFAULT_OPERATION_LIMITS.aliases, 0),
      tokens: parseCount('MAX_QUERY_TOKENS', env.MAX_QUERY_TOKENS, DEFAULT_OPERATION_LIMITS.tokens, 10),
      directives: parseCount('MAX_QUERY_DIRECTIVES', env.MAX_QUERY_DIRECTIVES, DEFAULT_OPERATION_LIMITS.directives, 0),
      cost: parseCount('MAX_QUERY_COST', env.MAX_QUERY_COST, DEFAULT_OPERATION_LIMITS.cost, 1),
      bodyBytes: parseCount('MAX_BODY_BYTES', env.MAX_BODY_BYTES, DEFAULT_OPERATION_LIMITS.bodyBytes, 1024, 100 * 1024 * 1024),
    },
    rateLimit: {
      subjectPerMinute: parseCount('RATE_LIMIT_SUBJECT_PER_MINUTE', env.RATE_LIMIT_SUBJECT_PER_MINUTE, DEFAULT_RATE_LIMIT.subjectPerMinute),
      tenantPerMinute: parseCount('RATE_LIMIT_TENANT_PER_MINUTE', env.RATE_LIMIT_TENANT_PER_MINUTE, DEFAULT_RATE_LIMIT.tenantPerMinute),
      store: rateLimitStoreOf(env, nonEmpty(env.REDIS_URL)),
      redisUrl: nonEmpty(env.REDIS_URL),
    },
    databaseLimits: {
      poolSize: parseCount('DATABASE_POOL_SIZE', env.DATABASE_POOL_SIZE, DEFAULT_DATABASE_LIMITS.poolSize, 1, 1000),
      poolTimeoutMs: parseDuration('DATABASE_POOL_TIMEOUT', env.DATABASE_POOL_TIMEOUT, DEFAULT_DATABASE_LIMITS.poolTimeoutMs),
      statementTimeoutMs: parseDuration('DATABASE_STATEMENT_TIMEOUT', env.DATABASE_STATEMENT_TIMEOUT, DEFAULT_DATABASE_LIMITS.statementTimeoutMs),
      idleInTransactionTimeoutMs: parseDuration(
        'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT',
        env.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT,
        DEFAULT_DATABASE_LIMITS.idleInTransactionTimeoutMs,
      ),
      preparedStatements: parseSwitch('DATABASE_PREPARED_STATEMENTS', env.DATABASE_PREPARED_STATEMENTS, DEFAULT_DATABASE_LIMITS.preparedStatements),
    },
    corsOrigins: corsOriginsOf(env.CORS_ORIGINS),
    trustedDocuments: {
      file: nonEmpty(env.TRUSTED_DOCUMENTS_FILE) === undefined ? undefined : path.resolve(nonEmpty(env.TRUSTED_DOCUMENTS_FILE)!),
      onlyForRoles: list(env.TRUSTED_DOCUMENTS_ONLY_ROLES),
    },
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
