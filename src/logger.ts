/**
 * Application logs: one JSON line per event, and never personal data. Callers pass only
 * identifiers the gateway controls (request ids, codes, counts); errors are reduced to their
 * class and code, because driver messages can quote row values.
 */
export interface Logger {
  info(event: string, fields?: Record<string, string | number | boolean | null>): void;
  warn(event: string, fields?: Record<string, string | number | boolean | null>): void;
  error(event: string, error: unknown, fields?: Record<string, string | number | boolean | null>): void;
}

export function describeErrorSafely(error: unknown): { errorClass: string; errorCode: string | null } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { errorClass: error.constructor.name, errorCode: typeof code === 'string' ? code : null };
  }
  return { errorClass: typeof error, errorCode: null };
}

export function createLogger(write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Logger {
  const emit = (level: string, event: string, fields: Record<string, unknown> = {}) =>
    write(JSON.stringify({ at: new Date().toISOString(), level, event, ...fields }));
  return {
    info: (event, fields) => emit('info', event, fields),
    warn: (event, fields) => emit('warn', event, fields),
    error: (event, error, fields) => emit('error', event, { ...fields, ...describeErrorSafely(error) }),
  };
}

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
