import { Kysely, PostgresDialect, type LogEvent } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';
import { withBoundedConnectionWait } from './availability.js';
import { openEmbeddedPostgres } from './embedded.js';
import { PreparingClient } from './prepared-statements.js';
import { StatementCounter } from './statement-counter.js';
import type { Database } from './tables.js';

export type DatabaseKind = 'postgres' | 'pglite';

export interface DatabaseHandle {
  kind: DatabaseKind;
  db: Kysely<Database>;
  statements: StatementCounter;
  /** Every statement Kysely finished (metrics, traces); listeners must not throw. */
  queryListeners: Set<(event: LogEvent) => void>;
  /** The node-postgres pool's counters; undefined on the embedded database. */
  pool?: { readonly totalCount: number; readonly idleCount: number; readonly waitingCount: number };
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A PostgreSQL connection string; without it the embedded PGlite database is used. */
  url?: string | undefined;
  /** Where PGlite keeps its files; undefined keeps them in memory. */
  dataDir?: string | undefined;
  /** An already-open PGlite instance to share (tests, and start-up seeding on the embedded database). */
  pglite?: PGlite | undefined;
  poolSize?: number | undefined;
  /** Longest wait for a connection, in ms; then the query fails (SERVICE_UNAVAILABLE to a client). */
  poolTimeoutMs?: number | undefined;
  /** Prepare each statement text once per connection (PostgreSQL only; see prepared-statements.ts). */
  preparedStatements?: boolean | undefined;
}

// Timestamps come back as Date; bigint ids stay strings so nothing is silently rounded.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => value);

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const statements = new StatementCounter();
  const queryListeners = new Set<(event: LogEvent) => void>();
  const log = (event: LogEvent) => {
    statements.log(event);
    for (const listener of queryListeners) listener(event);
  };
  if (options.url !== undefined) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      ...(options.preparedStatements === true ? { Client: PreparingClient } : {}),
      // Bounds both the wait for a busy pool's connection and a new connection to an unreachable server.
      ...(options.poolTimeoutMs === undefined ? {} : { connectionTimeoutMillis: options.poolTimeoutMs }),
    });
    // A client whose server went away (idle in the pool, or mid-query) must not crash the
    // process: the query in flight fails on its own, and the pool replaces the client.
    pool.on('error', () => undefined);
    pool.on('connect', (client) => client.on('error', () => undefined));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log });
    return { kind: 'postgres', db, statements, queryListeners, pool, close: () => db.destroy() };
  }
  const ownsInstance = options.pglite === undefined;
  const pglite = options.pglite ?? (await openEmbeddedPostgres(options.dataDir));
  const dialect = new PGliteDialect(pglite);
  const db = new Kysely<Database>({
    dialect: options.poolTimeoutMs === undefined ? dialect : withBoundedConnectionWait(dialect, options.poolTimeoutMs),
    log,
  });
  return {
    kind: 'pglite',
    db,
    statements,
    queryListeners,
    close: async () => {
      // Kysely's PGlite driver closes the instance on destroy; a shared instance must outlive it.
      if (ownsInstance) await db.destroy();
    },
  };
}
