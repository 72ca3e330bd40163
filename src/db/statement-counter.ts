import type { LogEvent } from 'kysely';

/**
 * The entry itself, the bookkeeping of an entry written on its own (tagged in use-access-log), and
 * the revocation check every request makes before anything is read (tagged in queries/incidents).
 */
const ACCESS_LOG_WRITE = /^(insert into "access_log"|\/\* access-log \*\/|\/\* revocation \*\/)/;

/**
 * Counts the SQL statements Kysely sends, so tests can prove that a refused operation reads
 * nothing and that a request's statement count does not grow with its rows. The access-log
 * entry every request leaves (refused ones too) is not a read, and is not counted; nor is the
 * revocation check.
 */
export class StatementCounter {
  #count = 0;
  #texts: string[] | undefined;
  get count(): number {
    return this.#count;
  }
  readonly log = (event: LogEvent): void => {
    if (event.level !== 'query' && event.level !== 'error') return;
    if (ACCESS_LOG_WRITE.test(event.query.sql)) return;
    this.#count += 1;
    this.#texts?.push(event.query.sql);
  };

  /**
   * The text of every statement counted while `work` runs (tests: a statement's text must not
   * grow with its batch). Only while asked, so a long-running gateway keeps no texts.
   */
  async texts(work: () => Promise<unknown>): Promise<string[]> {
    const texts: string[] = [];
    this.#texts = texts;
    try {
      await work();
    } finally {
      this.#texts = undefined;
    }
    return texts;
  }
}
