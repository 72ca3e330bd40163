import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * Most statements per connection that are kept prepared; beyond it, statements run unnamed. The
 * gateway's statement texts are a bounded set (keys travel as array parameters, never in the
 * text), so this is a guard against a caller-shaped text, not a working limit.
 */
const MAX_PREPARED_PER_CONNECTION = 256;

/** Reads and the access-log insert: what a request sends, with its parameters. */
const PREPARABLE = /^\s*(\/\*[^*]*\*\/\s*)?(select|insert|with)\b/i;

const nameOf = (text: string) => `custodian_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`;

/**
 * A node-postgres client that prepares each statement text once per connection and reuses it:
 * PostgreSQL then parses it once, and after a few executions plans it once (a generic plan, when
 * that is no worse than a custom one). Planning the masking views under row-level security cost
 * more than running them on a dashboard page. The name is a hash of the text, so one name never
 * stands for two texts. Transaction control and anything without parameters runs as before.
 *
 * Behind PgBouncer in transaction mode prepared statements need PgBouncer 1.21+ with
 * max_prepared_statements; DATABASE_PREPARED_STATEMENTS=off turns this off.
 */
export class PreparingClient extends pg.Client {
  /** Text → statement name, for the texts prepared on this connection (hashed once each). */
  readonly #prepared = new Map<string, string>();

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    // node-postgres' query() has many overloads; Kysely calls query(text, values) only, and that
    // is the one form prepared here. Every other call passes through untouched.
    this.query = ((...args: unknown[]) => {
      const [text, values] = args;
      if (args.length === 2 && typeof text === 'string' && Array.isArray(values) && values.length > 0 && PREPARABLE.test(text)) {
        let name = this.#prepared.get(text);
        if (name === undefined && this.#prepared.size < MAX_PREPARED_PER_CONNECTION) this.#prepared.set(text, (name = nameOf(text)));
        if (name !== undefined) return query({ name, text, values });
      }
      return query(...args);
    }) as pg.Client['query'];
  }
}
