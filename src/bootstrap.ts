import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadOrCreateDevKeys } from './auth/dev-keys.js';
import { createTokenVerifier, type TokenVerifier } from './auth/token-verifier.js';
import type { Config } from './config.js';
import { accessPolicyHash, writeAccessPolicy } from './db/access-policy.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import { ensureAccessLogPartitions, ensureApplicationLogin, migrateToLatest } from './db/migrate.js';
import { pendingMigrations } from './db/pending-migrations.js';
import { useApplicationRole } from './db/request-scope.js';
import { assertSafeApplicationRole, inspectConnectedRole } from './db/role-check.js';
import { ConfigurationError } from './errors.js';
import type { Logger } from './logger.js';
import { databasePolicy } from './policy/database-policy.js';
import { loadPolicyFile, type Policy } from './policy/policy.js';
import { importData } from './privacy/import/import-data.js';
import { createServer, type Server } from 'node:http';
import { warmUpJwks, type KeyStatus } from './auth/jwks-warmup.js';
import { assertDatabaseUrl, checkDatabaseConnection } from './db/connection-check.js';
import { GatewayMetrics } from './ops/metrics.js';
import { createReadiness, databaseReadiness, type Readiness } from './ops/readiness.js';
import { startTracing, type Tracing } from './ops/tracing.js';
import { metricsResponse } from './ops/use-health.js';
import type { RetentionScheduler } from './privacy/retention-scheduler.js';
import { createGateway, listen, type RunningGateway } from './server.js';
import { loadTrustedDocuments } from './graphql/plugins/use-trusted-documents.js';
import { createCallerRateLimiter, type CallerRateLimiter } from './limits/rate-limiter.js';

/** The owner's connection: migrations and imports. On the embedded database it is the same instance. */
export async function openOwnerDatabase(config: Config): Promise<DatabaseHandle> {
  const url = config.migrateDatabaseUrl;
  const variable = config.migrateDatabaseUrl === config.databaseUrl ? 'DATABASE_URL' : 'MIGRATE_DATABASE_URL';
  if (url !== undefined) assertDatabaseUrl(variable, url);
  const owner = await openDatabase({ url, dataDir: config.dataDir, poolSize: 2 });
  if (url !== undefined) {
    try {
      await checkDatabaseConnection(owner.db, url, variable);
    } catch (error) {
      await owner.close();
      throw error;
    }
  }
  return owner;
}

/** Migrates as the owner and makes sure the application role can log in (real PostgreSQL). */
export async function migrateDatabase(owner: DatabaseHandle, config: Config): Promise<string[]> {
  const result = await migrateToLatest(owner.db);
  await ensureAccessLogPartitions(owner.db);
  // The masking views enforce the policy as the database holds it: write the one this deployment uses.
  await writeAccessPolicy(owner.db, databasePolicy(loadPolicyFile(config.policyFile)));
  if (owner.kind === 'postgres') await ensureApplicationLogin(owner.db, config.appDbPassword, config.appDbRole);
  return (result.results ?? []).map((r) => r.migrationName);
}

export async function readImportFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigurationError(
      code === 'ERR_STRING_TOO_LONG'
        ? `The import file ${file} is larger than one JSON document can be here (about 512 MB): split it into several files and import each.`
        : `Cannot read the import file ${file}${typeof code === 'string' ? ` (${code})` : ''}.`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    // V8's message quotes the start of the text, which may be personal data: keep only where it broke.
    const where = /at position \d+(?: \(line \d+ column \d+\))?/.exec((error as Error).message)?.[0];
    throw new ConfigurationError(`The import file ${file} is not valid JSON${where === undefined ? '' : ` (${where})`}.`);
  }
}

export async function createVerifier(config: Config): Promise<TokenVerifier> {
  return (await createVerifierWithStatus(config, undefined)).verifier;
}

/** The verifier, and for a remote JWKS whether its keys have been fetched (retried in the background). */
async function createVerifierWithStatus(config: Config, logger: Logger | undefined): Promise<{ verifier: TokenVerifier; keys: KeyStatus | undefined }> {
  const verifier = await createVerifierOnly(config);
  const keys = config.auth.jwksUrl !== undefined && logger !== undefined ? warmUpJwks(config.auth.jwksUrl, logger) : undefined;
  return { verifier, keys };
}

async function createVerifierOnly(config: Config): Promise<TokenVerifier> {
  const usesDevKeys = config.auth.jwksUrl === undefined && config.auth.publicKeyFile === undefined;
  if (usesDevKeys && config.production) throw new ConfigurationError('Production needs AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE.');
  return createTokenVerifier(config.auth, usesDevKeys ? (await loadOrCreateDevKeys(config.dataDir)).publicJwks : undefined);
}

export interface StartedGateway extends RunningGateway {
  database: DatabaseHandle;
  metrics: GatewayMetrics;
  readiness: Readiness;
  /** Set when METRICS_PORT serves /metrics on a port of its own. */
  metricsUrl: string | undefined;
  /**
   * Graceful stop: /readyz turns 503, the listener closes, requests in flight finish (for at most
   * SHUTDOWN_TIMEOUT), then the pool, the metrics port and the trace exporter are closed.
   */
  shutdown(): Promise<{ abandoned: number }>;
}

/**
 * Everything `npm start` does: load and check the policy, open the database (migrating and
 * loading the demo data on the embedded database's first start), check the database role,
 * and serve, with health, readiness, metrics, traces and a log line per request.
 */
export async function startGateway(config: Config, logger: Logger): Promise<StartedGateway> {
  const policy: Policy = loadPolicyFile(config.policyFile);
  useApplicationRole(config.appDbRole);
  const tracing: Tracing | undefined = startTracing(config.ops.otlpEndpoint);
  const { verifier, keys } = await createVerifierWithStatus(config, logger);
  let database: DatabaseHandle;
  try {
    database = config.databaseUrl === undefined ? await prepareEmbedded(config, logger) : await openServerDatabase(config, policy, logger);
  } catch (error) {
    keys?.stop();
    await tracing?.shutdown().catch(() => undefined);
    throw error;
  }
  const metrics = new GatewayMetrics(policy, { processMetrics: true });
  const readiness = createReadiness([databaseReadiness(database.db), async () => keys?.problem()]);
  let metricsServer: Server | undefined;
  let rateLimiter: CallerRateLimiter;
  try {
    rateLimiter = await createCallerRateLimiter(config.rateLimit, config.databaseUrl);
  } catch (error) {
    keys?.stop();
    await database.close();
    await tracing?.shutdown().catch(() => undefined);
    throw error;
  }
  try {
    const gateway = createGateway({
      database,
      policy,
      verifier,
      production: config.production,
      logger,
      limits: config.limits,
      databaseLimits: config.databaseLimits,
      rateLimiter,
      corsOrigins: config.corsOrigins,
      ...(config.trustedDocuments.file === undefined
        ? {}
        : { trustedDocuments: { documents: loadTrustedDocuments(config.trustedDocuments.file), onlyForRoles: config.trustedDocuments.onlyForRoles } }),
      ops: { metrics, readiness, metricsOnGatewayPort: config.ops.metricsPort === undefined, requestLogger: logger },
    });
    const retention = await scheduleRetention(config, database, logger);
    const running = await listen(gateway, config.host, config.port).catch(async (error: unknown) => {
      await retention?.stop();
      throw error;
    });
    logger.info('rate_limit.store', { store: rateLimiter.store });
    let metricsUrl: string | undefined;
    if (config.ops.metricsPort !== undefined) {
      metricsServer = await serveMetrics(metrics, config.host, config.ops.metricsPort).catch(async (error: unknown) => {
        await running.close();
        throw error;
      });
      const address = metricsServer.address() as AddressInfo;
      metricsUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/metrics`;
    }
    const release = async () => {
      keys?.stop();
      await new Promise<void>((resolve) => (metricsServer === undefined ? resolve() : metricsServer.close(() => resolve())));
      metricsServer?.closeAllConnections();
      await rateLimiter.close();
      await database.close();
      await tracing?.shutdown().catch(() => undefined);
    };
    return {
      ...running,
      database,
      metrics,
      readiness,
      metricsUrl,
      close: async () => {
        await retention?.stop();
        await running.close();
        await release();
      },
      async shutdown() {
        readiness.markShuttingDown();
        await retention?.stop();
        const result = await running.drain(config.ops.shutdownTimeoutMs); // closes the listener synchronously first
        await release();
        return result;
      },
    };
  } catch (error) {
    keys?.stop();
    metricsServer?.close();
    await rateLimiter.close();
    await database.close();
    throw error;
  }
}

/** /metrics on METRICS_PORT, so a scrape never shares the public port; everything else is 404. */
async function serveMetrics(metrics: GatewayMetrics, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    void metricsResponse(metrics).then(async (response) => {
      res.writeHead(response.status, Object.fromEntries(response.headers)).end(await response.text());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ConfigurationError(`Cannot listen on METRICS_PORT ${port} (HOST "${host}"): ${error.code ?? error.message}.`)),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

async function prepareEmbedded(config: Config, logger: Logger): Promise<DatabaseHandle> {
  const database = await openDatabase({ dataDir: config.dataDir, poolTimeoutMs: config.databaseLimits.poolTimeoutMs });
  try {
    const applied = await migrateDatabase(database, config);
    if (applied.length > 0) logger.info('database.migrated', { migrations: applied.join(',') });
    const firstStart = applied.includes('0001-foundation');
    if (firstStart && fs.existsSync(config.demoDataFile)) {
      // First start of this data directory: load the demo data set.
      const report = await importData(database.db, await readImportFile(config.demoDataFile));
      logger.info('demo.imported', report);
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

async function openServerDatabase(config: Config, policy: Policy, logger: Logger): Promise<DatabaseHandle> {
  const url = config.databaseUrl!;
  assertDatabaseUrl('DATABASE_URL', url);
  const database = await openDatabase({
    url,
    poolSize: config.databaseLimits.poolSize,
    poolTimeoutMs: config.databaseLimits.poolTimeoutMs,
    preparedStatements: config.databaseLimits.preparedStatements,
  });
  try {
    await checkDatabaseConnection(database.db, url, 'DATABASE_URL');
    const pending = await pendingMigrations(database.db).catch((error: unknown) => {
      const code = (error as { code?: unknown }).code;
      throw new ConfigurationError(
        code === '42501'
          ? 'The DATABASE_URL role may not read the migrations table: connect as the application role npm run migrate grants.'
          : `Cannot read the migrations table (${typeof code === 'string' ? code : 'unknown error'}).`,
      );
    });
    if (pending.length > 0) {
      throw new ConfigurationError(`The database lacks migrations ${pending.join(', ')}: run npm run migrate first.`);
    }
    await assertDatabaseEnforces(database, policy);
    const facts = await inspectConnectedRole(database.db);
    if (config.production) assertSafeApplicationRole(facts);
    else if (facts.superuser || facts.bypassRls || facts.ownsTables.length > 0) {
      // Development only: every request still drops to custodian_app inside its transaction.
      logger.warn('database.role_too_powerful', { role: facts.role });
    }
  } catch (error) {
    await database.close();
    throw error;
  }
  return database;
}

/**
 * The database masks person-linked reads by the policy written into it at migration; serving with
 * another policy would let the field policy and the masking views disagree, so the gateway refuses.
 */
export async function assertDatabaseEnforces(database: DatabaseHandle, policy: Policy): Promise<void> {
  const held = await accessPolicyHash(database.db);
  if (held !== databasePolicy(policy).hash) {
    throw new ConfigurationError(
      held === undefined
        ? 'The database holds no access policy: run npm run migrate.'
        : 'The database enforces a different access policy than POLICY_FILE: run npm run migrate with the same POLICY_FILE.',
    );
  }
}

/**
 * RETENTION_INTERVAL: retention runs inside the gateway, as the owner (it drops access-log
 * partitions and deletes transactions, which custodian_app may not): the embedded database's own
 * connection, or MIGRATE_DATABASE_URL on PostgreSQL, checked to be the owner before serving.
 */
async function scheduleRetention(
  config: Config,
  database: DatabaseHandle,
  logger: Logger,
): Promise<(RetentionScheduler & { stop(): Promise<void> }) | undefined> {
  if (config.retentionIntervalMs === undefined) return undefined;
  let owner = database;
  if (database.kind === 'postgres') {
    owner = await openOwnerDatabase(config);
    const facts = await inspectConnectedRole(owner.db).catch(async (error: unknown) => {
      await owner.close();
      throw error;
    });
    if (!facts.superuser && !facts.ownsTables.includes('retention_runs')) {
      await owner.close();
      throw new ConfigurationError('RETENTION_INTERVAL runs retention as the owner: set MIGRATE_DATABASE_URL to the role that ran npm run migrate.');
    }
  }
  // Loaded only when scheduled: the CLIs that share this module (migrate, seed) stay light.
  const { startRetentionScheduler } = await import('./privacy/retention-scheduler.js');
  const scheduler = startRetentionScheduler({ owner, intervalMs: config.retentionIntervalMs, config, logger });
  logger.info('retention.scheduled', { intervalMs: config.retentionIntervalMs });
  return {
    ...scheduler,
    stop: async () => {
      await scheduler.stop();
      if (owner !== database) await owner.close();
    },
  };
}
