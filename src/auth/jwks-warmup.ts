import type { Logger } from '../logger.js';
import { describeErrorSafely } from '../logger.js';

export interface KeyStatus {
  /** undefined once keys are loaded; else why not (for /readyz). */
  problem(): string | undefined;
  stop(): void;
}

/**
 * Fetches the JWKS at start-up and keeps retrying (1 s, 2 s, 4 s … at most 30 s apart, one log
 * line per attempt) until it answers with keys. The gateway serves meanwhile: /readyz answers 503
 * with the reason, and tokens are refused as unauthenticated, rather than the process dying or
 * starting silently with nothing to verify against.
 */
export function warmUpJwks(url: string, logger: Logger, options: { timeoutMs?: number; maxDelayMs?: number } = {}): KeyStatus {
  let problem: string | undefined = 'the JWKS at AUTH_JWKS_URL has not been fetched yet';
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let attempt = 0;
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return '(invalid URL)';
    }
  })();
  const tryOnce = async () => {
    attempt += 1;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? 5000), headers: { accept: 'application/json' } });
      if (!response.ok) throw Object.assign(new Error('status'), { code: `HTTP_${response.status}` });
      const body = (await response.json()) as { keys?: unknown };
      if (!Array.isArray(body.keys) || body.keys.length === 0) throw Object.assign(new Error('no keys'), { code: 'NO_KEYS' });
      problem = undefined;
      logger.info('auth.jwks_loaded', { host, keys: body.keys.length, attempt });
    } catch (error) {
      const { errorCode, errorClass } = describeErrorSafely(error);
      const cause = errorCode ?? describeErrorSafely((error as { cause?: unknown }).cause).errorCode ?? errorClass;
      const delay = Math.min(1000 * 2 ** (attempt - 1), options.maxDelayMs ?? 30_000);
      problem = `signing keys not loaded: the JWKS at AUTH_JWKS_URL (${host}) could not be fetched (${cause})`;
      logger.warn('auth.jwks_unreachable', { host, cause, attempt, retryInSeconds: delay / 1000 });
      if (!stopped) {
        timer = setTimeout(() => void tryOnce(), delay);
        timer.unref();
      }
    }
  };
  void tryOnce();
  return {
    problem: () => problem,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
