import type { AccessLogRow } from '../db/queries/access-log.js';
import { canonicalContent, sha256Hex } from './entry-hash.js';

/**
 * One entry as it concerns one person (POLICY.md, "Views of the log"): no other subjects, no other
 * people's mask reasons or exposure. `forThePerson` is the person's own view (their history, their
 * export): it also leaves out the reading staff member's token id, client address and correlation
 * id. The chain hash commits to the whole entry, other people included, so a per-person view
 * carries the digest of what it shows instead, and no previous hash.
 */
export function entryForPerson(row: AccessLogRow, personId: string, forThePerson: boolean): AccessLogRow {
  // Entries written before per-person masks were kept hold the request's masks only: they are the
  // person's own when the person was the entry's only subject, and nobody's to show otherwise.
  const masked = row.maskedBySubject[personId] ?? (row.subjects.length === 1 && row.subjects[0] === personId ? row.masked : []);
  const view: AccessLogRow = {
    ...row,
    subjects: row.subjects.includes(personId) ? [personId] : [],
    masked: [...masked],
    maskedBySubject: masked.length === 0 ? {} : { [personId]: [...masked] },
    exposure: row.exposure[personId] === undefined ? {} : { [personId]: row.exposure[personId] },
    tokenId: forThePerson ? null : row.tokenId,
    clientAddress: forThePerson ? null : row.clientAddress,
    correlationId: forThePerson ? null : row.correlationId,
  };
  return { ...view, prevHash: null, hash: sha256Hex(`person-view:${personId}:${canonicalContent(view)}`) };
}
