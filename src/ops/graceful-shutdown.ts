import type { Server } from 'node:http';
import type { Logger } from '../logger.js';

export interface Drainable {
  /** Requests received and not yet answered. */
  readonly inFlight: number;
  /**
   * Stops accepting connections, lets every request in flight finish (closing each keep-alive
   * connection once it is idle), and after `timeoutMs` closes whatever is still open. Resolves
   * with how many requests were cut off.
   */
  drain(timeoutMs: number): Promise<{ abandoned: number }>;
}

/** Counts a server's requests in flight so a shutdown can wait for exactly those. */
export function trackInFlight(server: Server): Drainable {
  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | undefined;
  server.on('request', (_req, res) => {
    inFlight += 1;
    res.once('close', () => {
      inFlight -= 1;
      if (draining) {
        // The answered connection would otherwise wait for its keep-alive timeout.
        setImmediate(() => server.closeIdleConnections());
        if (inFlight === 0) idle?.();
      }
    });
  });
  return {
    get inFlight() {
      return inFlight;
    },
    async drain(timeoutMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const finished = inFlight === 0 ? Promise.resolve(true) : new Promise<boolean>((resolve) => (idle = () => resolve(true)));
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
      const done = await Promise.race([finished, timedOut]);
      clearTimeout(timer);
      const abandoned = done ? 0 : inFlight;
      server.closeAllConnections();
      await closed;
      return { abandoned };
    },
  };
}

/**
 * SIGTERM and SIGINT start one graceful shutdown (a second signal does not start another);
 * `stop` finishes in-flight requests and releases everything, then the process exits 0, or 1
 * if stopping failed.
 */
export function exitGracefullyOn(signals: readonly NodeJS.Signals[], logger: Logger, stop: (signal: NodeJS.Signals) => Promise<void>): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => {
        logger.info('shutdown.complete', { signal });
        process.exit(0);
      },
      (error: unknown) => {
        logger.error('shutdown.failed', error, { signal });
        process.exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
}
