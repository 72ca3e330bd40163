import { sql, type ControlledTransaction, type Kysely } from 'kysely';
import type { Database } from './tables.js';

/** The role the migrations grant to; every application role holds exactly its privileges. */
export const GRANTS_ROLE = 'custodian_app';

/**
 * The application role request transactions drop to: APP_DB_ROLE, set once at start-up
 * (useApplicationRole). An exported `let` is a live binding, so every importer reads the
 * configured name.
 */
export let APP_ROLE = GRANTS_ROLE;

export function useApplicationRole(name: string): void {
  APP_ROLE = name;
}

/** Whose rows a transaction may see; RLS in the database enforces it, the queries filter too. */
export type DataScope =
  | { readonly kind: 'tenant'; readonly tenantId: string }
  | { readonly kind: 'platform' }
  | { readonly kind: 'person'; readonly personId: string }
  | { readonly kind: 'maintenance' };

export type ScopedTransaction = ControlledTransaction<Database>;

/** Bounds on a request's transaction, so no statement or idle transaction holds a connection for long. */
export interface TransactionTimeouts {
  statementTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/**
 * Opens one transaction and pins the scope to it with set_config(..., true): the settings vanish
 * at commit or rollback, so a pooled connection never carries a tenant into the next request.
 * The role is dropped to the application role for the transaction as well, so row-level security
 * applies even where the connection itself is an owner (the embedded database, development).
 */
export async function beginScopedTransaction(
  db: Kysely<Database>,
  scope: DataScope,
  purpose = '',
  timeouts?: TransactionTimeouts,
  isolation?: 'repeatable read',
): Promise<ScopedTransaction> {
  const start = db.startTransaction();
  const trx = await (isolation === undefined ? start : start.setIsolationLevel(isolation)).execute();
  try {
    const role = scope.kind === 'maintenance' ? sql`current_user` : sql`${APP_ROLE}`;
    // Transaction-local like the scope: gone at commit or rollback.
    const bounds =
      timeouts === undefined
        ? sql``
        : sql`set_config('statement_timeout', ${String(timeouts.statementTimeoutMs)}, true),
      set_config('idle_in_transaction_session_timeout', ${String(timeouts.idleInTransactionTimeoutMs)}, true),`;
    await sql`select ${bounds}
      set_config('role', ${role}, true),
      set_config('app.scope', ${scope.kind}, true),
      set_config('app.tenant_id', ${scope.kind === 'tenant' ? scope.tenantId : ''}, true),
      set_config('app.person_id', ${scope.kind === 'person' ? scope.personId : ''}, true),
      set_config('app.purpose', ${purpose}, true)`.execute(trx);
  } catch (error) {
    await trx.rollback().execute().catch(() => undefined);
    throw error;
  }
  return trx;
}

/**
 * Runs `work` in a scoped transaction: committed when it returns, rolled back when it throws.
 * With `repeatable read`, every statement of `work` reads one snapshot (a verifier reading a
 * log that is being written to).
 */
export async function withScope<T>(
  db: Kysely<Database>,
  scope: DataScope,
  work: (trx: ScopedTransaction) => Promise<T>,
  isolation?: 'repeatable read',
): Promise<T> {
  const trx = await beginScopedTransaction(db, scope, '', undefined, isolation);
  let result: T;
  try {
    result = await work(trx);
  } catch (error) {
    await trx.rollback().execute().catch(() => undefined);
    throw error;
  }
  await commitOrRelease(trx);
  return result;
}

/**
 * Commits; if the commit fails (a connection that died mid-request), rolls back so the
 * connection is released to the pool either way (Kysely releases only on a successful commit).
 */
export async function commitOrRelease(trx: ScopedTransaction): Promise<void> {
  try {
    await trx.commit().execute();
  } catch (error) {
    await trx.rollback().execute().catch(() => undefined);
    throw error;
  }
}
