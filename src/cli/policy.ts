import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, projectRoot } from '../config.js';
import { gatewaySchema } from '../graphql/schema.js';
import { checkSchemaCoverage } from '../policy/check-schema-coverage.js';
import { renderPolicyMatrix } from '../policy/policy-matrix.js';
import { loadPolicyFile } from '../policy/policy.js';
import { parseArgs, runCli } from './run-cli.js';

export const POLICY_DOC = path.join(projectRoot, 'docs', 'policy.md');

/**
 * `npm run policy:check [-- --file F]`: the start-up policy checks, offline.
 * `npm run policy:docs`: writes docs/policy.md from the policy.
 */
runCli(async () => {
  const [command, ...rest] = process.argv.slice(2);
  const args = parseArgs(rest, { file: 'value' });
  const file = path.resolve(args.get('file') ?? loadConfig().policyFile);
  const policy = loadPolicyFile(file);
  checkSchemaCoverage(policy, gatewaySchema());
  if (command === 'docs') {
    fs.mkdirSync(path.dirname(POLICY_DOC), { recursive: true });
    fs.writeFileSync(POLICY_DOC, renderPolicyMatrix(policy));
    process.stdout.write(`Wrote ${path.relative(process.cwd(), POLICY_DOC)}\n`);
    return;
  }
  process.stdout.write(
    `${path.relative(process.cwd(), file)} is complete: ${policy.roles.size} roles, ${policy.purposes.size} purposes, ` +
      `${policy.categories.size} categories, every field of every personal type classified.\n`,
  );
});
