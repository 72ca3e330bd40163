import type { Kysely } from 'kysely';
import { chainHeads, chainPage, type AccessLogRow } from '../db/queries/access-log.js';
import { withScope } from '../db/request-scope.js';
import type { Database } from '../db/tables.js';
import { CHAINS, position, type ChainHead } from './chains.js';
import { chainHash, contentHash, genesisHash } from './entry-hash.js';

export interface ChainProblem {
  kind: 'EDITED' | 'DELETED' | 'REORDERED_OR_INSERTED' | 'FORGED' | 'TRUNCATED' | 'CHECKPOINT';
  chain: number;
  /** The position in the chain where the problem shows. */
  link: string;
  /** The entry there; undefined where it is gone (deleted, cut off). */
  seq: string | undefined;
  message: string;
}

export interface ChainReport {
  entries: number;
  chains: number;
  /** Every chain's head as access_log_chains holds it. */
  heads: ChainHead[];
  problem: ChainProblem | undefined;
}

/** What a signed checkpoint vouches for: each chain's head when it was signed. */
export interface Checkpoint {
  heads: ChainHead[];
  at: string;
  /** Only in the checkpoint of a retention cut: the entries at or before the cut that it kept. */
  kept?: ChainHead[];
}

/**
 * Where retention cut the log (src/privacy/retention.ts): per chain, the last dropped entry,
 * vouched for by a checkpoint signed when the partitions were dropped; and the entries at or
 * before it that were kept (dated into a month retention kept). `kept` is undefined for cuts made
 * before chains, whose kept entries are only checked on their own.
 */
export interface ChainStart {
  heads: ChainHead[];
  kept: ChainHead[] | undefined;
}

const PAGE = 5_000;

interface Walked {
  chain: number;
  link: bigint;
  hash: string;
  /** The entry at `link`; undefined at genesis or at a cut. */
  seq: string | undefined;
}

/**
 * Walks every chain in link order as the owner, on one snapshot, and names the first problem:
 * an entry edited (content no longer matches content_hash), deleted (a gap in link), reordered
 * or inserted (prev_hash is not the previous entry's hash, or it lies beyond its chain's head),
 * forged (hash is not the link), entries cut off a chain's end (its head is further on, or its
 * head is gone), and, with a signed checkpoint, a chain that does not reach a signed head with
 * the same hash (a superuser who recomputed a chain from the edit on). Chains are checked in
 * order; within one, the first problem in link order is named.
 */
export async function verifyChain(db: Kysely<Database>, checkpoint?: Checkpoint, start?: ChainStart): Promise<ChainReport> {
  return withScope(
    db,
    { kind: 'maintenance' },
    async (trx) => {
      const heads = await chainHeads(trx);
      const verifier = new ChainVerifier(heads, checkpoint, start);
      let entries = 0;
      let after = { chain: -1, link: '0' };
      let problem: ChainProblem | undefined;
      walk: for (;;) {
        const page = await chainPage(trx, after, PAGE);
        for (const row of page) {
          problem = verifier.next(row);
          if (problem !== undefined) break walk;
          entries += 1;
        }
        if (page.length < PAGE) break;
        const last = page.at(-1)!;
        after = { chain: last.chain, link: last.link };
      }
      problem ??= verifier.finish();
      return { entries, chains: heads.length, heads, problem };
    },
    'repeatable read',
  );
}

class ChainVerifier {
  readonly #heads: Map<number, ChainHead>;
  readonly #starts: Map<number, ChainHead>;
  readonly #kept: Map<string, string> | undefined;
  readonly #keptSeen = new Set<string>();
  readonly #signed: Map<number, ChainHead>;
  readonly #at: string;
  #current: Walked | undefined;
  /** The next chain not yet opened. */
  #nextChain = 0;

  constructor(heads: readonly ChainHead[], checkpoint: Checkpoint | undefined, start: ChainStart | undefined) {
    this.#heads = new Map(heads.map((head) => [head.chain, head]));
    this.#starts = new Map((start?.heads ?? []).map((head) => [head.chain, head]));
    this.#kept = start?.kept === undefined ? undefined : new Map(start.kept.map((k) => [`${k.chain}:${k.link}`, k.hash]));
    this.#signed = new Map((checkpoint?.heads ?? []).map((head) => [head.chain, head]));
    this.#at = checkpoint?.at ?? '';
  }

  next(row: AccessLogRow): ChainProblem | undefined {
    const link = BigInt(row.link);
    if (!Number.isInteger(row.chain) || row.chain < 0 || row.chain >= CHAINS) {
      return problem('REORDERED_OR_INSERTED', row.chain, row.link, row.seq, `${position(row.chain, row.link, row.seq)} is in a chain that does not exist: it was inserted`);
    }
    if (this.#current === undefined || row.chain !== this.#current.chain) {
      // Every chain before this one, with entries or without, is complete: close them.
      const closed = this.#closeUpTo(row.chain);
      if (closed !== undefined) return closed;
      this.#current = this.#open(row.chain);
      const atStart = this.#checkSigned(this.#current);
      if (atStart !== undefined) return atStart;
    }
    const current = this.#current;
    const cut = this.#starts.get(row.chain);
    if (cut !== undefined && link <= BigInt(cut.link)) return this.#keptAcrossCut(row);

    const found = checkEntry(row, current);
    if (found !== undefined) return found;
    const head = this.#heads.get(row.chain);
    if (head !== undefined && link > BigInt(head.link)) {
      return problem(
        'REORDERED_OR_INSERTED',
        row.chain,
        row.link,
        row.seq,
        `${position(row.chain, row.link, row.seq)} lies beyond its chain's head (link ${head.link}): the head was rewound, or the entry inserted`,
      );
    }
    this.#current = { chain: row.chain, link, hash: row.hash, seq: row.seq };
    return this.#checkSigned(this.#current);
  }

  /** After the last entry: closes the chain walked last and every chain after it. */
  finish(): ChainProblem | undefined {
    const closed = this.#closeUpTo(CHAINS);
    if (closed !== undefined) return closed;
    const stray = [...this.#heads.keys()].find((chain) => chain < 0 || chain >= CHAINS);
    if (stray !== undefined) return problem('REORDERED_OR_INSERTED', stray, '0', undefined, `chain ${stray} has a head but is not one of the log's chains`);
    return undefined;
  }

  #open(chain: number): Walked {
    const cut = this.#starts.get(chain);
    this.#nextChain = chain + 1;
    return cut === undefined
      ? { chain, link: 0n, hash: genesisHash(chain), seq: undefined }
      : { chain, link: BigInt(cut.link), hash: cut.hash, seq: undefined };
  }

  #closeUpTo(chain: number): ChainProblem | undefined {
    if (this.#current !== undefined) {
      const closed = this.#close(this.#current);
      this.#current = undefined;
      if (closed !== undefined) return closed;
    }
    while (this.#nextChain < chain) {
      const empty = this.#open(this.#nextChain);
      const closed = this.#checkSigned(empty) ?? this.#close(empty);
      if (closed !== undefined) return closed;
    }
    return undefined;
  }

  /** A chain walked to its last entry: its head, the kept entries and the checkpoint must agree. */
  #close(last: Walked): ChainProblem | undefined {
    const { chain } = last;
    const after = position(chain, last.link + 1n);
    if (this.#kept !== undefined) {
      const cut = this.#starts.get(chain);
      for (const key of this.#kept.keys()) {
        if (!key.startsWith(`${chain}:`) || this.#keptSeen.has(key)) continue;
        const link = key.slice(key.indexOf(':') + 1);
        return problem('DELETED', chain, link, undefined, `${position(chain, link)}, kept when retention cut chain ${chain} at link ${cut?.link ?? '?'}, is missing: deleted from the log`);
      }
    }
    const head = this.#heads.get(chain);
    const lastEntry = last.seq === undefined ? `the start of chain ${chain}` : position(chain, last.link, last.seq);
    if (head === undefined) {
      return problem('TRUNCATED', chain, String(last.link + 1n), undefined, `chain ${chain} has no head (it was deleted): entries after ${lastEntry} may have been cut off`);
    }
    const headLink = BigInt(head.link);
    if (headLink > last.link) {
      const missing = headLink === last.link + 1n ? `${after} is` : `links ${last.link + 1n} to ${headLink} of chain ${chain} are`;
      return problem('TRUNCATED', chain, String(last.link + 1n), undefined, `${missing} missing: the log was cut short after ${lastEntry}`);
    }
    if (headLink < last.link) {
      // Only a chain with no entry past its start gets here (an entry beyond the head is named as it is walked).
      return problem('TRUNCATED', chain, head.link, undefined, `chain ${chain}'s head (link ${head.link}) lies before its start (link ${last.link}): the head was rewound`);
    }
    if (head.hash !== last.hash) {
      return problem(
        'REORDERED_OR_INSERTED',
        chain,
        String(last.link),
        last.seq,
        `${lastEntry} is not the entry chain ${chain}'s head vouches for: it was replaced, or the head rewritten`,
      );
    }
    const signed = this.#signed.get(chain);
    if (signed !== undefined && BigInt(signed.link) > last.link) {
      return problem('CHECKPOINT', chain, signed.link, undefined, `${position(chain, signed.link)} of the signed checkpoint of ${this.#at} is missing: chain ${chain} ends at link ${last.link}`);
    }
    return undefined;
  }

  /** At a checkpoint's position in a chain, the hash must be the signed one. */
  #checkSigned(at: Walked): ChainProblem | undefined {
    const signed = this.#signed.get(at.chain);
    if (signed === undefined || BigInt(signed.link) !== at.link || signed.hash === at.hash) return undefined;
    const cut = this.#starts.get(at.chain);
    // A checkpoint at or before a retention cut is vouched for by the cut's own signed checkpoint.
    if (cut !== undefined && BigInt(signed.link) <= BigInt(cut.link)) return undefined;
    return problem(
      'CHECKPOINT',
      at.chain,
      signed.link,
      at.seq,
      `${position(at.chain, signed.link, at.seq)} does not match the signed checkpoint of ${this.#at}: chain ${at.chain} up to it was rewritten`,
    );
  }

  /**
   * An entry at or before its chain's retention cut that is still there: written just before the
   * cut but dated into a month retention kept. Its predecessor may be gone; its own content and
   * link must hold, and (for cuts that list them) it must be one the cut kept.
   */
  #keptAcrossCut(row: AccessLogRow): ChainProblem | undefined {
    const self = checkSelf(row);
    if (self !== undefined) return self;
    if (this.#kept === undefined) return undefined;
    const key = `${row.chain}:${row.link}`;
    const kept = this.#kept.get(key);
    if (kept === undefined || this.#keptSeen.has(key) || kept !== row.hash) {
      return problem(
        'REORDERED_OR_INSERTED',
        row.chain,
        row.link,
        row.seq,
        `${position(row.chain, row.link, row.seq)} lies before chain ${row.chain}'s retention cut but is not an entry the cut kept: it was inserted or replaced`,
      );
    }
    this.#keptSeen.add(key);
    return undefined;
  }
}

function problem(kind: ChainProblem['kind'], chain: number, link: string, seq: string | undefined, message: string): ChainProblem {
  return { kind, chain, link, seq, message };
}

function checkSelf(row: AccessLogRow): ChainProblem | undefined {
  const at = position(row.chain, row.link, row.seq);
  if (contentHash(row) !== row.contentHash) return problem('EDITED', row.chain, row.link, row.seq, `${at} was edited: its content no longer matches its hash`);
  if (chainHash(row.prevHash ?? '', row.link, row.contentHash) !== row.hash) return problem('FORGED', row.chain, row.link, row.seq, `${at} carries a forged hash`);
  return undefined;
}

function checkEntry(row: AccessLogRow, previous: Walked): ChainProblem | undefined {
  const link = BigInt(row.link);
  const at = position(row.chain, row.link, row.seq);
  const before = previous.seq === undefined ? `the start of chain ${row.chain}` : position(previous.chain, previous.link, previous.seq);
  if (link <= previous.link) {
    return problem('REORDERED_OR_INSERTED', row.chain, row.link, row.seq, `${at} appears twice or out of order: an entry was inserted`);
  }
  if (link > previous.link + 1n) {
    const missing = link - 1n === previous.link + 1n ? `${position(row.chain, previous.link + 1n)} is` : `links ${previous.link + 1n} to ${link - 1n} of chain ${row.chain} are`;
    return problem('DELETED', row.chain, String(previous.link + 1n), undefined, `${missing} missing between ${before} and ${at}: deleted from the log`);
  }
  if (row.prevHash !== previous.hash) {
    return problem('REORDERED_OR_INSERTED', row.chain, row.link, row.seq, `${at} does not follow ${before}: entries were reordered, inserted, replaced or moved between chains`);
  }
  return checkSelf(row);
}
