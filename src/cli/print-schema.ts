import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../config.js';
import { printGatewaySchema } from '../graphql/schema.js';
import { runCli } from './run-cli.js';

export const SCHEMA_FILE = path.join(projectRoot, 'schema', 'schema.graphql');

runCli(async () => {
  fs.writeFileSync(SCHEMA_FILE, printGatewaySchema());
  process.stdout.write(`Wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
});
