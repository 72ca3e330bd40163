import { migrateDatabase, openOwnerDatabase } from '../bootstrap.js';
import { loadConfig } from '../config.js';
import { ConfigurationError } from '../errors.js';
import { RETENTION_RULES, type RetentionReport } from '../privacy/retention.js';
import { runRetentionExclusively } from '../privacy/retention-scheduler.js';
import { parseArgs, runCli } from './run-cli.js';

const USAGE = 'Usage: npm run retention -- [--dry-run] [--now ISO-8601] [--json]';
const ISO = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

/**
 * Applies POLICY.md's retention table as the owner (MIGRATE_DATABASE_URL, or the embedded
 * database). `--dry-run` prints per rule what would go and changes nothing; `--now` applies the
 * periods as of another instant; `--json` prints one object with a count per rule.
 */
runCli(async () => {
  const args = parseArgs(process.argv.slice(2), { 'dry-run': 'flag', now: 'value', json: 'flag' });
  const nowText = args.get('now');
  if (nowText !== undefined && (!ISO.test(nowText) || Number.isNaN(Date.parse(nowText)))) {
    throw new ConfigurationError(`--now must be an ISO-8601 date or instant such as 2030-01-01T00:00:00Z. ${USAGE}`);
  }
  const now = nowText === undefined ? new Date() : new Date(nowText);
  const dryRun = args.has('dry-run');
  const config = loadConfig();
  const owner = await openOwnerDatabase(config);
  try {
    await migrateDatabase(owner, config);
    const outcome = await runRetentionExclusively(owner, { now, dryRun, runner: 'cli', config });
    if (outcome.status !== 'ran') throw new ConfigurationError('Another retention run holds the lock; try again when it has finished.');
    const report = outcome.report;
    process.stdout.write(args.has('json') ? `${JSON.stringify(toJson(report))}\n` : describe(report));
  } finally {
    await owner.close();
  }
});

function toJson(report: RetentionReport) {
  return {
    ...report.counts,
    dryRun: report.dryRun,
    now: report.now.toISOString(),
    oldest: Object.fromEntries(RETENTION_RULES.map((rule) => [rule, report.oldest[rule]?.toISOString() ?? null])),
    cutoffs: Object.fromEntries(RETENTION_RULES.map((rule) => [rule, report.cutoffs[rule].toISOString()])),
    partitionsCreated: report.partitionsCreated,
    partitionsKeptForHolds: report.partitionsKeptForHolds,
    runId: report.runId,
  };
}

const LABELS: Record<string, string> = {
  accounts: 'accounts inactive 3 years (erased)',
  transactions: 'orders older than 7 years (deleted)',
  usage: 'usage events older than 26 months (deleted)',
  support: 'support cases resolved over 2 years ago (deleted)',
  accessLogPartitions: 'access-log months older than 7 years (dropped)',
};

function describe(report: RetentionReport): string {
  const lines = [`Retention as of ${report.now.toISOString()}${report.dryRun ? ' (dry run: nothing changed)' : ''}`];
  for (const rule of RETENTION_RULES) {
    const oldest = report.oldest[rule];
    lines.push(
      `  ${LABELS[rule]}: ${report.counts[rule]} ${report.dryRun ? 'would go' : 'gone'}` +
        `${oldest === null ? '' : `, oldest ${oldest.toISOString()}`} (before ${report.cutoffs[rule].toISOString()})`,
    );
  }
  if (report.partitionsKeptForHolds.length > 0) lines.push(`  kept for legal holds: ${report.partitionsKeptForHolds.join(', ')}`);
  if (!report.dryRun) lines.push(`  access-log partitions created ahead: ${report.partitionsCreated}`, `  recorded as run ${report.runId}`);
  return `${lines.join('\n')}\n`;
}
