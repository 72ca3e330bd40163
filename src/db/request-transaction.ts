import type { Kysely } from 'kysely';
import { beginScopedTransaction, commitOrRelease, type DataScope, type ScopedTransaction, type TransactionTimeouts } from './request-scope.js';
import type { Database } from './tables.js';

/**
 * One transaction per request, opened on first use so that requests which read nothing (the
 * viewer, introspection) never touch the database, and finished exactly once.
 */
export class RequestTransaction {
  #pending: Promise<ScopedTransaction> | undefined;
  #finished = false;

  constructor(
    private readonly db: Kysely<Database>,
    readonly scope: DataScope,
    /** The declared purpose, pinned for the database too: RLS allows writes only for data-subject purposes. */
    private readonly purpose: string,
    private readonly timeouts?: TransactionTimeouts,
  ) {}

  /** The request's transaction; every statement of the request runs in it. */
  get(): Promise<ScopedTransaction> {
    if (this.#finished) return Promise.reject(new Error('The request transaction is already finished.'));
    this.#pending ??= beginScopedTransaction(this.db, this.scope, this.purpose, this.timeouts);
    return this.#pending;
  }

  /** Commits (or rolls back) if a transaction was opened; a failed begin leaves nothing to finish. */
  async finish(outcome: 'commit' | 'rollback'): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#pending === undefined) return;
    let trx: ScopedTransaction;
    try {
      trx = await this.#pending;
    } catch {
      return;
    }
    if (outcome === 'commit') await commitOrRelease(trx);
    else await trx.rollback().execute();
  }
}
