import { createHash } from 'node:crypto';

export const OUTCOMES = ['ALLOWED', 'DENIED', 'ERROR'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What an access-log entry says; its hash covers exactly this. */
export interface AccessLogContent {
  at: Date;
  actor: string;
  role: string;
  tenantId: string | null;
  purpose: string;
  operationName: string | null;
  requestId: string;
  tokenId: string | null;
  clientAddress: string | null;
  /** Person ids read (the platform's data-subject ids). */
  subjects: readonly string[];
  /** `Type.field` names returned. */
  fields: readonly string[];
  /** `Type.field:REASON` for what was masked. */
  masked: readonly string[];
  /** Person id → data categories read unmasked (breach scoping). */
  exposure: Readonly<Record<string, readonly string[]>>;
  outcome: Outcome;
  errorCode: string | null;
  /** The caller's X-Request-Id, kept beside the gateway's own `requestId`. */
  correlationId: string | null;
  /** Person id → `Type.field:REASON` masked for that person. */
  maskedBySubject: Readonly<Record<string, readonly string[]>>;
  /** Aggregate reads, `DIMENSION:category`; they read no one person. */
  aggregates: readonly string[];
}

const sorted = (values: readonly string[]) => [...values].sort();

/**
 * The canonical form of an entry's content: a JSON array in fixed order, arrays sorted, so the
 * writer and `audit:verify` (and anyone re-implementing it) hash the same bytes.
 */
export function canonicalContent(content: AccessLogContent): string {
  return JSON.stringify([
    content.at.toISOString(),
    content.actor,
    content.role,
    content.tenantId,
    content.purpose,
    content.operationName,
    content.requestId,
    content.tokenId,
    content.clientAddress,
    sorted(content.subjects),
    sorted(content.fields),
    sorted(content.masked),
    Object.keys(content.exposure)
      .sort()
      .map((subject) => [subject, sorted(content.exposure[subject] ?? [])]),
    content.outcome,
    content.errorCode,
    // Added by migration 0006: hashed only when an entry has any, so earlier entries still verify.
    ...(hasAdditions(content)
      ? [
          {
            correlationId: content.correlationId,
            maskedBySubject: Object.keys(content.maskedBySubject)
              .sort()
              .map((subject) => [subject, sorted(content.maskedBySubject[subject] ?? [])]),
            aggregates: sorted(content.aggregates),
          },
        ]
      : []),
  ]);
}

function hasAdditions(content: AccessLogContent): boolean {
  return content.correlationId !== null || Object.keys(content.maskedBySubject).length > 0 || content.aggregates.length > 0;
}

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export const contentHash = (content: AccessLogContent): string => sha256Hex(canonicalContent(content));

/**
 * The link the database's trigger computes: SHA-256 of `prev_hash:link:content_hash`, where link
 * is the entry's position in its chain (migration 0010; before it, the one chain's seq).
 */
export const chainHash = (prevHash: string, link: string | bigint, content: string): string => sha256Hex(`${prevHash}:${link}:${content}`);

/**
 * Where each chain starts: chain 0 continues the original single chain (all zeros); every other
 * chain from its own hash, so an entry's hash commits to the chain it was written in.
 */
export const genesisHash = (chain: number): string => (chain === 0 ? '0'.repeat(64) : sha256Hex(`custodian-access-log-chain:${chain}`));
