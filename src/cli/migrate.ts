import { migrateDatabase, openOwnerDatabase } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { runCli } from './run-cli.js';

runCli(async () => {
  const config = loadConfig();
  const owner = await openOwnerDatabase(config);
  try {
    const applied = await migrateDatabase(owner, config);
    process.stdout.write(applied.length === 0 ? 'The database is up to date.\n' : `Applied: ${applied.join(', ')}\n`);
    if (owner.kind === 'postgres') {
      process.stdout.write(
        `Role ${config.appDbRole} can log in${config.appDbPassword ? ' with APP_DB_PASSWORD' : ' (no password set: set APP_DB_PASSWORD)'}.\n`,
      );
    }
  } finally {
    await owner.close();
  }
});
