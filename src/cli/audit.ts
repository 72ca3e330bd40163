import fs from 'node:fs';
import { readCheckpoint, signCheckpoint } from '../audit/checkpoint.js';
import { verifyAccessLog } from '../audit/verify-from-cut.js';
import { openOwnerDatabase } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { position } from '../audit/chains.js';
import { chainHeads } from '../db/queries/access-log.js';
import { withScope } from '../db/request-scope.js';
import { ConfigurationError } from '../errors.js';
import { parseArgs, runCli } from './run-cli.js';

const USAGE = 'Usage: npm run audit:verify [-- --checkpoint FILE] | npm run audit:checkpoint [-- --out FILE]';

/**
 * `verify`: walks every chain of the access log and names the first bad entry (exit 1), optionally
 * against a signed checkpoint. `checkpoint`: prints (or writes) every chain's head signed as a JWS.
 */
runCli(async () => {
  const [command, ...rest] = process.argv.slice(2);
  if (command !== 'verify' && command !== 'checkpoint') throw new ConfigurationError(USAGE);
  const args = parseArgs(rest, command === 'verify' ? { checkpoint: 'value' } : { out: 'value' });
  const config = loadConfig();
  const owner = await openOwnerDatabase(config);
  try {
    if (command === 'checkpoint') {
      const heads = await withScope(owner.db, { kind: 'maintenance' }, (trx) => chainHeads(trx), 'repeatable read');
      const jws = await signCheckpoint(config, heads);
      const out = args.get('out');
      if (out === undefined) process.stdout.write(`${jws}\n`);
      else {
        fs.writeFileSync(out, `${jws}\n`);
        process.stdout.write(`Checkpoint of the heads of ${heads.length} chains written to ${out}\n`);
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
      const { chain, link, seq, kind, message } = report.problem;
      process.stdout.write(`access log: FAILED at ${position(chain, link, seq)} (${kind}): ${message}\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(
      `access log: OK, ${report.entries} entries in ${report.chains} chains` +
        `${checkpoint === undefined ? '' : `, consistent with the checkpoint of ${checkpoint.at}`}\n` +
        report.heads
          .filter((head) => head.link !== '0')
          .map((head) => `  chain ${head.chain}: head at link ${head.link} (${head.hash})\n`)
          .join(''),
    );
  } finally {
    await owner.close();
  }
});
