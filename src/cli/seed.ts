import { migrateDatabase, openOwnerDatabase, readImportFile } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { ConfigurationError } from '../errors.js';
import { IMPORT_BATCH } from '../db/queries/import-writes.js';
import { importData } from '../privacy/import/import-data.js';
import { parseArgs, runCli } from './run-cli.js';

runCli(async () => {
  const args = parseArgs(process.argv.slice(2), { file: 'value' });
  const file = args.get('file');
  if (file === undefined) throw new ConfigurationError('Usage: npm run seed -- --file PATH');
  const config = loadConfig();
  const input = await readImportFile(file);
  const owner = await openOwnerDatabase(config);
  try {
    await migrateDatabase(owner, config);
    // Long imports report each batch on stderr (stdout keeps the one summary line).
    const report = await importData(owner.db, input, {
      progress: (table, done, total) => {
        if (total > IMPORT_BATCH) process.stderr.write(`importing ${table}: ${done.toLocaleString('en')} of ${total.toLocaleString('en')} rows\n`);
      },
    });
    const written = Object.entries(report).map(([table, count]) => `${table} ${count}`);
    process.stdout.write(`Imported ${file}: ${written.join(', ')} (rows already present are left unchanged).\n`);
  } finally {
    await owner.close();
  }
});
