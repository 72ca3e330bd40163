import type { Kysely } from 'kysely';
import { chainHead, chainPage, type AccessLogRow } from '../db/queries/access-log.js';
import { withScope } from '../db/request-scope.js';
import type { Database } from '../db/tables.js';
import { chainHash, contentHash, GENESIS_HASH } from './entry-hash.js';

export interface ChainProblem {
  seq: string;
  kind: 'EDITED' | 'DELETED' | 'REORDERED_OR_INSERTED' | 'FORGED' | 'TRUNCATED' | 'CHECKPOINT';
  message: string;
}

export interface ChainReport {
  entries: number;
  head: { seq: string; hash: string };
  problem: ChainProblem | undefined;
}

export interface Checkpoint {
  seq: string;
  hash: string;
  at: string;
}

const PAGE = 5_000;

/**
 * Walks the whole chain in seq order as the owner and names the first entry that was edited
 * (content no longer matches content_hash), deleted (a gap in seq), reordered or inserted
 * (prev_hash is not the previous entry's hash), or forged (hash is not the chain link), and
 * whether entries were cut off the end (the head moved on). With a signed checkpoint, a chain
 * recomputed from scratch by a superuser is caught too.
 */
export async function verifyChain(db: Kysely<Database>, checkpoint?: Checkpoint, start?: ChainStart): Promise<ChainReport> {
  return withScope(db, { kind: 'maintenance' }, async (trx) => {
    let previous: { seq: bigint; hash: string } = start === undefined ? { seq: 0n, hash: GENESIS_HASH } : { seq: BigInt(start.seq), hash: start.hash };
    let entries = 0;
    let problem: ChainProblem | undefined;
    // A checkpoint at or before the cut is vouched for by the cut's own signed checkpoint.
    let checkpointSeen = checkpoint === undefined || checkpoint.seq === '0' || (start !== undefined && BigInt(checkpoint.seq) <= BigInt(start.seq));
    let after = '0';
    walk: for (;;) {
      const page = await chainPage(trx, after, PAGE);
      for (const row of page) {
        if (start !== undefined && BigInt(row.seq) <= BigInt(start.seq)) {
          // Kept across the cut: an entry written just before it, dated into a month retention kept.
          // Its predecessor may be gone; its own content and link must still hold.
          problem = checkSelf(row);
          if (problem !== undefined) break walk;
          entries += 1;
          continue;
        }
        problem = checkEntry(row, previous);
        if (problem !== undefined) break walk;
        if (checkpoint !== undefined && row.seq === checkpoint.seq) {
          checkpointSeen = true;
          if (row.hash !== checkpoint.hash) {
            problem = {
              seq: row.seq,
              kind: 'CHECKPOINT',
              message: `entry ${row.seq} does not match the signed checkpoint of ${checkpoint.at}: the chain up to it was rewritten`,
            };
            break walk;
          }
        }
        previous = { seq: BigInt(row.seq), hash: row.hash };
        entries += 1;
      }
      if (page.length < PAGE) break;
      after = page.at(-1)!.seq;
    }
    const head = await chainHead(trx);
    if (problem === undefined && (BigInt(head.seq) !== previous.seq || head.hash !== previous.hash)) {
      problem = {
        seq: String(previous.seq + 1n),
        kind: 'TRUNCATED',
        message: `entries ${previous.seq + 1n} to ${head.seq} are missing: the log was cut short after entry ${previous.seq}`,
      };
    }
    if (problem === undefined && !checkpointSeen) {
      problem = { seq: checkpoint!.seq, kind: 'CHECKPOINT', message: `entry ${checkpoint!.seq} of the signed checkpoint is missing` };
    }
    return { entries, head, problem };
  });
}

/**
 * Where retention cut the log: the last dropped entry, vouched for by a checkpoint signed when the
 * partitions were dropped (see src/privacy/retention.ts). The chain is verified from it.
 */
export interface ChainStart {
  seq: string;
  hash: string;
}

function checkSelf(row: AccessLogRow): ChainProblem | undefined {
  if (contentHash(row) !== row.contentHash) {
    return { seq: row.seq, kind: 'EDITED', message: `entry ${row.seq} was edited: its content no longer matches its hash` };
  }
  if (chainHash(row.prevHash ?? "", row.seq, row.contentHash) !== row.hash) {
    return { seq: row.seq, kind: 'FORGED', message: `entry ${row.seq} carries a forged hash` };
  }
  return undefined;
}

function checkEntry(row: AccessLogRow, previous: { seq: bigint; hash: string }): ChainProblem | undefined {
  const seq = BigInt(row.seq);
  if (seq <= previous.seq) {
    return { seq: row.seq, kind: 'REORDERED_OR_INSERTED', message: `entry ${row.seq} appears twice or out of order: an entry was inserted` };
  }
  if (seq > previous.seq + 1n) {
    const missing = seq - 1n === previous.seq + 1n ? `entry ${previous.seq + 1n} is` : `entries ${previous.seq + 1n} to ${seq - 1n} are`;
    return { seq: String(previous.seq + 1n), kind: 'DELETED', message: `${missing} missing: deleted from the log` };
  }
  if (row.prevHash !== previous.hash) {
    return {
      seq: row.seq,
      kind: 'REORDERED_OR_INSERTED',
      message: `entry ${row.seq} does not follow entry ${previous.seq}: entries were reordered, inserted or replaced`,
    };
  }
  return checkSelf(row);
}
