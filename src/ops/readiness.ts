import { sql, type Kysely } from 'kysely';
import { pendingMigrations } from '../db/pending-migrations.js';
import type { Database } from '../db/tables.js';

/** Something /readyz asks: undefined when fine, else a reason an operator can act on. */
export type ReadinessCheck = () => Promise<string | undefined>;

export interface Readiness {
  /** Every reason the gateway should not take traffic now; empty when ready. */
  reasons(): Promise<string[]>;
  /** From SIGTERM on, /readyz answers 503 so a load balancer stops sending traffic. */
  markShuttingDown(): void;
}

/** Bounded: a database that does not answer (a dropped packet, a full pool) must not hang /readyz. */
async function within<T>(ms: number, work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The database answers and has every migration this code knows. */
export function databaseReadiness(db: Kysely<Database>, timeoutMs = 3000): ReadinessCheck {
  return async () => {
    try {
      await within(timeoutMs, sql`select 1`.execute(db), 'the database');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return `database unreachable${typeof code === 'string' ? ` (${code})` : error instanceof Error && error.message.startsWith('the database') ? ` (${error.message})` : ''}`;
    }
    const pending = await within(timeoutMs, pendingMigrations(db), 'the database').catch(() => ['(unknown)']);
    return pending.length === 0 ? undefined : `migrations pending: ${pending.join(', ')} (run npm run migrate)`;
  };
}

export function createReadiness(checks: readonly ReadinessCheck[]): Readiness {
  let shuttingDown = false;
  return {
    async reasons() {
      if (shuttingDown) return ['shutting down'];
      const results = await Promise.all(checks.map((check) => check()));
      return results.filter((reason): reason is string => reason !== undefined);
    },
    markShuttingDown() {
      shuttingDown = true;
    },
  };
}
