import fs from 'node:fs';
import { loadOrCreateDevKeys } from './auth/dev-keys.js';
import { createTokenVerifier, type TokenVerifier } from './auth/token-verifier.js';
import type { Config } from './config.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import { ensureAccessLogPartitions, ensureApplicationLogin, migrateToLatest } from './db/migrate.js';
import { pendingMigrations } from './db/pending-migrations.js';
import { assertSafeApplicationRole, inspectConnectedRole } from './db/role-check.js';
import { ConfigurationError } from './errors.js';
import type { Logger } from './logger.js';
import { loadPolicyFile, type Policy } from './policy/policy.js';
import { importData } from './privacy/import/import-data.js';
import { createGateway, listen, type RunningGateway } from './server.js';
import { loadTrustedDocuments } from './graphql/plugins/use-trusted-documents.js';
import { createCallerRateLimiter, type CallerRateLimiter } from './limits/rate-limiter.js';

/** The owner's connection: migrations and imports. On the embedded database it is the same instance. */
export async function openOwnerDatabase(config: Config): Promise<DatabaseHandle> {
  return openDatabase({ url: config.migrateDatabaseUrl, dataDir: config.dataDir, poolSize: 2 });
}

/** Migrates as the owner and makes sure the application role can log in (real PostgreSQL). */
export async function migrateDatabase(owner: DatabaseHandle, config: Config): Promise<string[]> {
  const result = await migrateToLatest(owner.db);
  await ensureAccessLogPartitions(owner.db);
  if (owner.kind === 'postgres') await ensureApplicationLogin(owner.db, config.appDbPassword);
  return (result.results ?? []).map((r) => r.migrationName);
}

export async function readImportFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch {
    throw new ConfigurationError(`Cannot read the import file ${file}.`);
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
  const usesDevKeys = config.auth.jwksUrl === undefined && config.auth.publicKeyFile === undefined;
  if (usesDevKeys && config.production) throw new ConfigurationError('Production needs AUTH_JWKS_URL or AUTH_PUBLIC_KEY_FILE.');
  return createTokenVerifier(config.auth, usesDevKeys ? (await loadOrCreateDevKeys(config.dataDir)).publicJwks : undefined);
}

/**
 * Everything `npm start` does: load and check the policy, open the database (migrating and
 * loading the demo data on the embedded database's first start), check the database role,
 * and serve.
 */
export async function startGateway(config: Config, logger: Logger): Promise<RunningGateway & { database: DatabaseHandle }> {
  const policy: Policy = loadPolicyFile(config.policyFile);
  const verifier = await createVerifier(config);
  const database = config.databaseUrl === undefined ? await prepareEmbedded(config, logger) : await openServerDatabase(config, logger);
  let rateLimiter: CallerRateLimiter;
  try {
    rateLimiter = await createCallerRateLimiter(config.rateLimit, config.databaseUrl);
  } catch (error) {
    await database.close();
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
    });
    const running = await listen(gateway, config.host, config.port);
    logger.info('rate_limit.store', { store: rateLimiter.store });
    return {
      ...running,
      database,
      close: async () => {
        await running.close();
        await rateLimiter.close();
        await database.close();
      },
    };
  } catch (error) {
    await rateLimiter.close();
    await database.close();
    throw error;
  }
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

async function openServerDatabase(config: Config, logger: Logger): Promise<DatabaseHandle> {
  const database = await openDatabase({
    url: config.databaseUrl,
    poolSize: config.databaseLimits.poolSize,
    poolTimeoutMs: config.databaseLimits.poolTimeoutMs,
  });
  try {
    const pending = await pendingMigrations(database.db);
    if (pending.length > 0) {
      throw new ConfigurationError(`The database lacks migrations ${pending.join(', ')}: run npm run migrate first.`);
    }
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
