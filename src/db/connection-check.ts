import { sql, type Kysely } from 'kysely';
import { ConfigurationError } from '../errors.js';
import type { Database } from './tables.js';

/** user@host:port/database of a connection string, without its password or options. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const user = parsed.username === '' ? '' : `${decodeURIComponent(parsed.username)}@`;
    return `${user}${parsed.hostname || 'localhost'}:${parsed.port || '5432'}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

/** A connection string the driver can use, or a one-line reason why not. */
export function assertDatabaseUrl(variable: string, url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(`${variable} is not a URL; expected postgres://user:password@host:5432/database.`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigurationError(`${variable} must start with postgres:// or postgresql://, got "${parsed.protocol}//".`);
  }
}

const REASONS: Record<string, (where: string, variable: string) => string> = {
  ECONNREFUSED: (where) => `Cannot reach the database at ${where}: connection refused. Is PostgreSQL running there?`,
  ENOTFOUND: (where) => `Cannot reach the database at ${where}: the host name does not resolve.`,
  EAI_AGAIN: (where) => `Cannot reach the database at ${where}: the host name could not be resolved.`,
  EHOSTUNREACH: (where) => `Cannot reach the database at ${where}: no route to the host.`,
  ETIMEDOUT: (where) => `Cannot reach the database at ${where}: the connection timed out.`,
  ECONNRESET: (where) => `The database at ${where} closed the connection (is it PostgreSQL, with TLS settings that match?).`,
  '28P01': (where, variable) => `The database at ${where} refused the password in ${variable}.`,
  '28000': (where, variable) => `The database at ${where} refused the role in ${variable} (no such role, or pg_hba.conf does not allow it).`,
  '3D000': (where) => `The database at ${where} does not exist: create it (createdb) and run npm run migrate.`,
  '57P03': (where) => `The database at ${where} is starting up or shutting down; try again shortly.`,
  '53300': (where) => `The database at ${where} has no free connection slots.`,
};

/**
 * One round trip before anything else, so that an unreachable server, a wrong password or a
 * missing database is reported as exactly that (one line, no stack), bounded by `timeoutMs`.
 */
export async function checkDatabaseConnection(db: Kysely<Database>, url: string, variable: string, timeoutMs = 15_000): Promise<void> {
  const where = describeDatabaseUrl(url);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })), timeoutMs);
  });
  try {
    await Promise.race([sql`select 1`.execute(db), timeout]);
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? (error as { cause?: { code?: unknown } }).cause?.code ?? '');
    const reason = REASONS[code];
    throw new ConfigurationError(
      reason !== undefined ? `${reason(where, variable)} (${variable})` : `Cannot use the database at ${where} (${variable}): ${code || (error as Error).constructor.name}.`,
    );
  } finally {
    clearTimeout(timer);
  }
}
