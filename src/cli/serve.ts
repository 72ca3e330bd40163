import { startGateway } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { exitGracefullyOn } from '../ops/graceful-shutdown.js';
import { runCli } from './run-cli.js';

// `npm start` runs this file as `node --import tsx src/cli/serve.ts`: the process that receives
// SIGTERM is the server itself (the tsx command wrapper would kill it ~60 ms after a signal).
runCli(async () => {
  const config = loadConfig();
  const logger = createLogger();
  const gateway = await startGateway(config, logger);
  exitGracefullyOn(['SIGTERM', 'SIGINT'], logger, async (signal) => {
    // shutdown() closes the listener before its first await: once this line is out, new
    // connections are refused and only the requests counted here are still being answered.
    const stopped = gateway.shutdown();
    logger.info('shutdown.started', { signal, inFlight: gateway.inFlight(), timeoutMs: config.ops.shutdownTimeoutMs });
    const { abandoned } = await stopped;
    if (abandoned > 0) logger.warn('shutdown.requests_abandoned', { abandoned });
  });
  // Announced only once a signal is handled: a SIGTERM sent the moment either line is read shuts
  // down gracefully rather than killing the process where it stands.
  logger.info('gateway.listening', {
    url: gateway.url,
    metrics: gateway.metricsUrl ?? gateway.url.replace(/\/graphql$/, '/metrics'),
    database: gateway.database.kind,
    graphiql: !config.production,
    tracing: config.ops.otlpEndpoint !== undefined,
  });
  process.stdout.write(`Custodian is serving ${gateway.url} (${gateway.database.kind === 'pglite' ? `embedded database in ${config.dataDir}` : 'PostgreSQL'})\n`);
});
