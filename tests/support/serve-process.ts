import { spawn, type ChildProcess } from 'node:child_process';
import { projectRoot } from '../../src/config.js';

/** Variables a parent test process may hold that must not leak into a served gateway. */
const INHERITED = ['DATABASE_URL', 'MIGRATE_DATABASE_URL', 'TEST_DATABASE_URL', 'AUTH_JWKS_URL', 'AUTH_PUBLIC_KEY_FILE', 'AUTH_ISSUER', 'AUTH_AUDIENCE', 'NODE_ENV', 'PORT', 'HOST', 'METRICS_PORT', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'APP_DB_ROLE', 'APP_DB_PASSWORD'];

export interface ServedProcess {
  child: ChildProcess;
  /** Parsed JSON log lines from stderr so far. */
  lines: Record<string, unknown>[];
  /** Everything written to stderr and stdout. */
  output(): string;
  /** Resolves with the first log line for which `match` holds (event-driven: no polling, no sleeps). */
  waitFor(match: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Runs `npm start`'s command, `node --import tsx src/cli/serve.ts`, with exactly `env` on top of a clean environment. */
export function serveProcess(env: Record<string, string>): ServedProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !INHERITED.includes(key)));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/serve.ts'], {
    cwd: projectRoot,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let text = '';
  let pending = '';
  const waiters: { match: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const raw = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        continue;
      }
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.match(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  return {
    child,
    lines,
    output: () => text,
    exited,
    waitFor(match) {
      const seen = lines.find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, resolve });
        void exited.then((code) => reject(new Error(`the gateway exited (${code}) first:\n${text}`)));
      });
    },
  };
}

/** Stops a served process if it still runs (SIGTERM, then waits for it). */
export async function stopServed(served: ServedProcess | undefined): Promise<void> {
  if (served === undefined || served.child.exitCode !== null || served.child.signalCode !== null) return;
  served.child.kill('SIGTERM');
  await served.exited;
}
