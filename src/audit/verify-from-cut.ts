import type { Kysely } from 'kysely';
import type { Config } from '../config.js';
import { latestCut, type AccessLogCut } from '../db/queries/retention.js';
import { withScope } from '../db/request-scope.js';
import type { Database } from '../db/tables.js';
import { ConfigurationError } from '../errors.js';
import { canonicalHeads, isChainHeads, type ChainHead } from './chains.js';
import { readCheckpoint } from './checkpoint.js';
import { verifyChain, type ChainReport, type Checkpoint } from './verify-chain.js';

/** Where a cut left each chain; a cut made before chains cut the one chain, chain 0, at seq. */
export const cutHeads = (cut: AccessLogCut): ChainHead[] => cut.heads ?? [{ chain: 0, link: cut.seq, hash: cut.hash }];

/**
 * Verifies the access log as it stands after retention: from each chain's genesis when nothing
 * was ever cut, else from the last cut, whose signed checkpoint (made when the partitions were
 * dropped) must verify with the checkpoint key and name exactly the recorded position of every
 * chain. A cut row someone inserted or edited to hide a deletion fails here.
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
  const recorded = cutHeads(cut);
  if (
    !isChainHeads(recorded) ||
    JSON.stringify(canonicalHeads(signed.heads)) !== JSON.stringify(canonicalHeads(recorded)) ||
    // The newest dropped entry the row names is one of the signed chain ends.
    !signed.heads.some((head) => head.hash === cut.hash)
  ) {
    return cutProblem(cut.seq, `the retention cut at entry ${cut.seq} does not match its signed checkpoint`);
  }
  return verifyChain(db, checkpoint, { heads: signed.heads, kept: signed.kept });
}

function cutProblem(seq: string, message: string): ChainReport {
  return { entries: 0, chains: 0, heads: [], problem: { kind: 'CHECKPOINT', chain: 0, link: '0', seq, message } };
}
