import { pino, type Logger as PinoLogger } from 'pino';

/**
 * Application logs: one JSON line per event (pino), and never personal data. Callers pass only
 * identifiers the gateway controls (request ids, codes, counts); errors are reduced to their
 * class and code, because driver messages can quote row values.
 */
export type LogFields = Record<string, string | number | boolean | null>;

export interface Logger {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, error: unknown, fields?: LogFields): void;
}

export function describeErrorSafely(error: unknown): { errorClass: string; errorCode: string | null } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { errorClass: error.constructor.name, errorCode: typeof code === 'string' ? code : null };
  }
  return { errorClass: typeof error, errorCode: null };
}

/**
 * pino writes synchronously to stderr (or to `write`, for tests): a line logged just before the
 * process exits (a start-up failure, the end of a graceful shutdown) is never lost in a buffer.
 * Lines look like `{"level":"info","at":"…","event":"…",…fields}`.
 */
export function createLogger(write?: (line: string) => void, level = process.env.LOG_LEVEL?.trim() || 'info'): Logger {
  const destination = write === undefined ? pino.destination({ dest: 2, sync: true }) : { write: (line: string) => write(line.trimEnd()) };
  const base: PinoLogger = pino(
    {
      level,
      base: null,
      messageKey: 'event',
      timestamp: () => `,"at":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
  return {
    info: (event, fields) => base.info(fields ?? {}, event),
    warn: (event, fields) => base.warn(fields ?? {}, event),
    error: (event, error, fields) => base.error({ ...fields, ...describeErrorSafely(error) }, event),
  };
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
