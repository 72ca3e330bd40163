import { startGateway } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { runCli } from './run-cli.js';

runCli(async () => {
  const config = loadConfig();
  const logger = createLogger();
  const gateway = await startGateway(config, logger);
  logger.info('gateway.listening', {
    url: gateway.url,
    database: gateway.database.kind,
    graphiql: !config.production,
  });
  process.stdout.write(`Custodian is serving ${gateway.url} (${gateway.database.kind === 'pglite' ? `embedded database in ${config.dataDir}` : 'PostgreSQL'})\n`);
  const stop = () => {
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});
