/**
 * The benchmark's server process: the gateway exactly as `npm start` runs it (startGateway: auth,
 * limits, rate limiter, policy, masking views, access log, metrics, request log), and beside it
 * the raw-SQL peer on plain node:http over the same database. Run as a child of bench/run.ts so
 * its RSS is the gateway's own; it reports its URLs over IPC and serves until killed.
 *
 * Env: BENCH_DATABASE_KIND (pglite | postgres); on PostgreSQL BENCH_APP_URL and BENCH_OWNER_URL;
 * on PGlite a DATA_DIR where the embedded database is created and the bench data imported.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway } from '../src/bootstrap.js';
import { loadConfig } from '../src/config.js';
import pg from 'pg';
import { withScope } from '../src/db/request-scope.js';
import { createLogger } from '../src/logger.js';
import { importData } from '../src/privacy/import/import-data.js';
import { BENCH_ATTENDEES, BENCH_EVENT, BENCH_TENANT, dashboardData } from './dashboard-data.js';
import { rawDashboardPage } from './raw-dashboard.js';

const kind = process.env.BENCH_DATABASE_KIND;
const config = loadConfig({
  ...process.env,
  PORT: '0',
  ...(kind === 'postgres' ? { DATABASE_URL: process.env.BENCH_APP_URL } : {}),
});
const gateway = await startGateway(config, createLogger());
if (kind !== 'postgres') await importData(gateway.database.db, dashboardData());

/**
 * One statement per page. On PostgreSQL the peer's own owner pool sets the maintenance scope once
 * per connection, as a startup option (the tables force RLS even for their owner), so each page is a single round trip;
 * on PGlite it shares the gateway's one connection and scopes a transaction instead.
 */
async function rawPage(): Promise<string> {
  if (rawPool !== undefined) {
    const result = await rawPool.query<{ body: string }>(RAW_SQL.sql, [...RAW_SQL.parameters]);
    return result.rows[0]!.body;
  }
  const result = await withScope(gateway.database.db, { kind: 'maintenance' }, (trx) => rawDashboardPage(BENCH_TENANT, BENCH_EVENT, BENCH_ATTENDEES).execute(trx));
  return result.rows[0]!.body;
}
const RAW_SQL = rawDashboardPage(BENCH_TENANT, BENCH_EVENT, BENCH_ATTENDEES).compile(gateway.database.db);
const rawPool =
  kind === 'postgres'
    ? new pg.Pool({ connectionString: process.env.BENCH_OWNER_URL!, max: config.databaseLimits.poolSize, options: '-c app.scope=maintenance' })
    : undefined;

const raw = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    rawPage().then(
      (body) => {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(body);
      },
      () => {
        response.writeHead(500);
        response.end();
      },
    );
  });
});
await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
const rawUrl = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/`;
process.send!({ gatewayUrl: gateway.url, rawUrl });
process.on('disconnect', () => process.exit(0));
