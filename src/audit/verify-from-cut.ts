import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import { latestCut } from '../db/queries/retention.js';
import { withScope } from '../db/request-scope.js';
import type { Database } from '../db/tables.js';
import { ConfigurationError } from '../errors.js';
import { readCheckpoint } from './checkpoint.js';
import { verifyChain, type ChainReport, type Checkpoint } from './verify-chain.js';

/**
 * Verifies the access log as it stands after retention: from genesis when nothing was ever cut,
 * else from the last cut, whose signed checkpoint (made before the partitions were dropped) must
 * verify with the checkpoint key and name exactly the recorded cut. A cut row someone inserted or
 * edited to hide a deletion fails here.
 */
export async function verifyAccessLog(db: Kysely<Database>, config: Config, checkpoint?: Checkpoint, env = process.env): Promise<ChainReport> {
  const cut = await withScope(db, { kind: 'maintenance' }, (trx) => latestCut(trx));
  if (cut === undefined) return verifyChain(db, checkpoint);
  let signed: Checkpoint;
  try {
    signed = await readCheckpoint(config, cut.checkpoint, env);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    return cutProblem(cut.seq, `the retention cut at entry ${cut.seq} carries no valid signed checkpoint: ${error.message}`);
  }
  if (signed.seq !== cut.seq || signed.hash !== cut.hash) {
    return cutProblem(cut.seq, `the retention cut at entry ${cut.seq} does not match its signed checkpoint`);
  }
  return verifyChain(db, checkpoint, { seq: signed.seq, hash: signed.hash });
}

function cutProblem(seq: string, message: string): ChainReport {
  return { entries: 0, head: { seq, hash: '' }, problem: { seq, kind: 'CHECKPOINT', message } };
}
