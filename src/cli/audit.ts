import fs from 'node:fs';
import { readCheckpoint, signCheckpoint } from '../audit/checkpoint.js';
import { verifyAccessLog } from '../audit/verify-from-cut.js';
import { openOwnerDatabase } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { chainHead } from '../db/queries/access-log.js';
import { withScope } from '../db/request-scope.js';
import { ConfigurationError } from '../errors.js';
import { parseArgs, runCli } from './run-cli.js';

const USAGE = 'Usage: npm run audit:verify [-- --checkpoint FILE] | npm run audit:checkpoint [-- --out FILE]';

/**
 * `verify`: walks the access log's hash chain and names the first bad entry (exit 1), optionally
 * against a signed checkpoint. `checkpoint`: prints (or writes) the chain head signed as a JWS.
 */
runCli(async () => {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== 'verify' && command !== 'checkpoint') throw new ConfigurationError(USAGE);
  const args = parseArgs(rest, command === 'verify' ? { checkpoint: 'value' } : { out: 'value' });
  const config = loadConfig();
  const owner = await openOwnerDatabase(config);
  try {
    if (command === 'checkpoint') {
      const head = await withScope(owner.db, { kind: 'maintenance' }, (trx) => chainHead(trx));
      const jws = await signCheckpoint(config, head);
      const out = args.get('out');
      if (out === undefined) process.stdout.write(`${jws}\n`);
      else {
        fs.writeFileSync(out, `${jws}\n`);
        process.stdout.write(`Checkpoint of entry ${head.seq} written to ${out}\n`);
      }
      return;
    }
    const checkpointFile = args.get('checkpoint');
    let checkpoint;
    if (checkpointFile !== undefined) {
      let jws: string;
      try {
        jws = fs.readFileSync(checkpointFile, 'utf8');
      } catch {
        throw new ConfigurationError(`Cannot read the checkpoint ${checkpointFile}.`);
      }
      checkpoint = await readCheckpoint(config, jws);
    }
    const report = await verifyAccessLog(owner.db, config, checkpoint);
    if (report.problem !== undefined) {
      process.stdout.write(`access log: FAILED at entry ${report.problem.seq} (${report.problem.kind}): ${report.problem.message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(
      `access log: OK, ${report.entries} entries chained to head ${report.head.seq} (${report.head.hash})` +
        `${checkpoint === undefined ? '' : `, consistent with the checkpoint of ${checkpoint.at}`}\n`,
    );
  } finally {
    await owner.close();
  }
});
