import type { LogEvent } from 'kysely';

/**
 * Counts the SQL statements Kysely sends, so tests can prove that a refused operation reads
 * nothing and that a request's statement count does not grow with its rows.
 */
export class StatementCounter {
  #count = 0;
  get count(): number {
    return this.#count;
  }
  readonly log = (event: LogEvent): void => {
    if (event.level === 'query' || event.level === 'error') this.#count += 1;
  };
}
