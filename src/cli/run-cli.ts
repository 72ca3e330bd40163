import { ConfigurationError, UnsafeDatabaseRoleError } from '../errors.js';
import { PolicyError } from '../policy/policy.js';
import { ImportRefusedError } from '../privacy/import/validate-import.js';
import { MigrationError } from '../db/migrate.js';
import { RetentionError } from '../privacy/retention-error.js';

const EXPECTED = [ConfigurationError, UnsafeDatabaseRoleError, PolicyError, ImportRefusedError, MigrationError, RetentionError];

/** Runs a command; expected failures print their message (no stack) and exit 1. */
export function runCli(main: () => Promise<void>): void {
  main().catch((error: unknown) => {
    if (EXPECTED.some((kind) => error instanceof kind)) {
      process.stderr.write(`${(error as Error).message}\n`);
    } else {
      process.stderr.write(`Unexpected failure: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    }
    process.exit(1);
  });
}

/** `--name value` and `--flag` arguments. */
export function parseArgs(argv: readonly string[], known: Record<string, 'value' | 'flag'>): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const name = arg.replace(/^--/, '').split('=')[0]!;
    const kind = arg.startsWith('--') ? known[name] : undefined;
    if (kind === undefined) throw new ConfigurationError(`Unknown argument "${arg}". Known: ${Object.keys(known).map((k) => `--${k}`).join(', ')}.`);
    if (kind === 'flag') {
      args.set(name, 'true');
      continue;
    }
    const inline = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : undefined;
    const value = inline ?? argv[++i];
    if (value === undefined || value.startsWith('--')) throw new ConfigurationError(`--${name} needs a value.`);
    args.set(name, value);
  }
  return args;
}
