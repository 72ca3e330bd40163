import { ACCESS_LOG_CHAINS } from '../../migrations/0010-access-log-chains.js';

/** The access log's chains, 0..CHAINS-1, as migration 0010 made them. */
export const CHAINS = ACCESS_LOG_CHAINS;

/** A position in one chain and the hash there: a chain's head, a checkpoint's or a cut's. */
export interface ChainHead {
  chain: number;
  /** Decimal, like seq: a bigint in the database. */
  link: string;
  hash: string;
}

const HASH = /^[0-9a-f]{64}$/;
const LINK = /^(0|[1-9][0-9]{0,18})$/;

/**
 * Whether a value (from a signed payload or a jsonb column) is a list of chain positions, at most
 * one per chain unless `unique` is false.
 */
export function isChainHeads(value: unknown, { unique = true } = {}): value is ChainHead[] {
  if (!Array.isArray(value)) return false;
  const seen = new Set<number>();
  for (const head of value as unknown[]) {
    if (typeof head !== 'object' || head === null) return false;
    const { chain, link, hash } = head as Record<string, unknown>;
    if (typeof chain !== 'number' || !Number.isInteger(chain) || chain < 0 || chain >= CHAINS || (unique && seen.has(chain))) return false;
    if (typeof link !== 'string' || !LINK.test(link) || typeof hash !== 'string' || !HASH.test(hash)) return false;
    seen.add(chain);
  }
  return true;
}

/** Heads in chain order, only chain, link and hash (so two lists compare as JSON). */
export const canonicalHeads = (heads: readonly ChainHead[]): ChainHead[] =>
  [...heads].sort((a, b) => a.chain - b.chain).map(({ chain, link, hash }) => ({ chain, link, hash }));

/** `entry 12 (chain 3, link 5)`, or `chain 3, link 5` where no entry is there. */
export const position = (chain: number, link: string | bigint, seq?: string): string =>
  seq === undefined ? `chain ${chain}, link ${link}` : `entry ${seq} (chain ${chain}, link ${link})`;
