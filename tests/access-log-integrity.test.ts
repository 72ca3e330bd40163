import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint, signCheckpoint } from '../src/audit/checkpoint.js';
import { chainHash, contentHash } from '../src/audit/entry-hash.js';
import { verifyChain, type ChainReport } from '../src/audit/verify-chain.js';
import { loadConfig, projectRoot, type Config } from '../src/config.js';
import type { DatabaseHandle } from '../src/db/database.js';
import { chainHead, chainPage, type AccessLogRow } from '../src/db/queries/access-log.js';
import { withScope, type ScopedTransaction } from '../src/db/request-scope.js';
import type { Database } from '../src/db/tables.js';
import { createTestDatabase, DATABASE_KINDS, demoData, type TestDatabase } from './support/test-database.js';
import { createTestKeys, type TestKeys } from './support/test-keys.js';
import { startTestGateway, type TestGateway } from './support/test-gateway.js';

const run = promisify(execFile);
const TSX = path.join(projectRoot, 'node_modules', '.bin', 'tsx');

const ATTENDEES = `query Roster { attendees(first: 500) { edges { node { id name email } } } }`;
const REFUSED = `query Phones { attendees { edges { node { name phone } } } }`;

interface DemoPerson {
  name: string;
  email: string;
}
const DEMO_PEOPLE = (demoData() as { people: DemoPerson[] }).people;

/** Every demo name and email that appears in a raw response body. */
const leakedPersonalData = (body: string) => DEMO_PEOPLE.flatMap((p) => [p.name, p.email]).filter((value) => body.includes(value));

/** The owner's statements run in the maintenance scope: access_log has FORCED row-level security. */
const asOwner = <T>(database: TestDatabase, work: (trx: ScopedTransaction) => Promise<T>): Promise<T> =>
  withScope(database.owner.db, { kind: 'maintenance' }, work);

/** The whole log in seq order, sorted here so these checks do not lean on the verifier's own ordering. */
async function entriesOf(db: Kysely<Database>): Promise<AccessLogRow[]> {
  const rows = await chainPage(db, '0', 100_000);
  return rows.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : BigInt(a.seq) > BigInt(b.seq) ? 1 : 0));
}
const entries = (database: TestDatabase): Promise<AccessLogRow[]> => asOwner(database, entriesOf);

async function rawRequest(gateway: TestGateway, token: string, query: string, purpose = 'ticketing') {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}`, 'x-purpose': purpose },
    body: JSON.stringify({ query }),
  });
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as { data?: unknown; errors?: { extensions?: { code?: string } }[] } };
}

/** Alters access_log's rows behind the triggers' back, as only the owner or a superuser can. */
function tamper(database: TestDatabase, work: (trx: ScopedTransaction) => Promise<void>): Promise<void> {
  return asOwner(database, async (trx) => {
    await sql`alter table access_log disable trigger user`.execute(trx);
    await work(trx);
    await sql`alter table access_log enable trigger user`.execute(trx);
  });
}

interface LogSnapshot {
  rows: string;
  head: { seq: string; hash: string };
}

async function snapshot(database: TestDatabase): Promise<LogSnapshot> {
  return asOwner(database, async (trx) => {
    const rows = await sql<{ rows: unknown }>`select coalesce(jsonb_agg(to_jsonb(a)), '[]') as rows from access_log a`.execute(trx);
    return { rows: JSON.stringify(rows.rows[0]!.rows), head: await chainHead(trx) };
  });
}

/** Puts the log back exactly as it was, so each tampering is judged on an otherwise intact chain. */
async function restore(database: TestDatabase, saved: LogSnapshot): Promise<void> {
  await tamper(database, async (trx) => {
    await sql`delete from access_log`.execute(trx);
    await sql`insert into access_log select * from jsonb_populate_recordset(null::access_log, ${saved.rows}::jsonb)`.execute(trx);
    await sql`update access_log_head set seq = ${saved.head.seq}::bigint, hash = ${saved.head.hash}`.execute(trx);
  });
}

/** The partition holding the newest entry: the one this month's next entry goes to. */
async function currentPartition(database: TestDatabase): Promise<string> {
  return asOwner(database, async (trx) => {
    const row = await sql<{ name: string }>`select tableoid::regclass::text as name from access_log order by seq desc limit 1`.execute(trx);
    return row.rows[0]!.name;
  });
}

async function partitionBounds(database: TestDatabase, partition: string): Promise<string> {
  const row = await sql<{ bound: string }>`
    select pg_get_expr(c.relpartbound, c.oid) as bound from pg_class c where c.oid = ${partition}::regclass`.execute(database.owner.db);
  return row.rows[0]!.bound;
}

describe.each(DATABASE_KINDS)('the access log (%s)', (kind) => {
  let database: TestDatabase;
  let handle: DatabaseHandle;
  let keys: TestKeys;
  let gateway: TestGateway;
  const organizer = (tenant = 'northwind-live', sub = 'door-manager') => keys.sign({ sub, roles: ['organizer_admin'], tenant });

  beforeAll(async () => {
    database = await createTestDatabase(kind);
    // Several connections on PostgreSQL, so concurrent requests really append in parallel.
    handle = kind === 'postgres' ? await database.openApp(10) : database.app;
    keys = await createTestKeys();
    gateway = await startTestGateway({ database: handle, auth: keys.auth });
  });
  afterAll(async () => {
    await gateway?.close();
    await database?.destroy();
  });

  async function readRoster() {
    const response = await rawRequest(gateway, await organizer(), ATTENDEES);
    expect(response.status).toBe(200);
    expect(response.body.errors).toBeUndefined();
    return response;
  }

  async function expectClean(): Promise<ChainReport> {
    const report = await verifyChain(database.owner.db);
    expect(report.problem).toBeUndefined();
    return report;
  }

  describe('fails closed when the entry cannot be written', () => {
    async function expectFailsClosed(breakLog: () => Promise<void>, repairLog: () => Promise<void>) {
      await readRoster();
      const before = await entries(database);
      await breakLog();
      try {
        const read = await rawRequest(gateway, await organizer(), ATTENDEES);
        expect(read.status).toBe(503);
        expect(read.body.errors?.[0]?.extensions?.code).toBe('AUDIT_UNAVAILABLE');
        expect(read.body.data ?? null).toBeNull();
        expect(leakedPersonalData(read.text)).toEqual([]);

        const refused = await rawRequest(gateway, await organizer(), REFUSED);
        expect(refused.status).toBe(503);
        expect(refused.body.errors?.[0]?.extensions?.code).toBe('AUDIT_UNAVAILABLE');
        expect(refused.body.data ?? null).toBeNull();
        expect(leakedPersonalData(refused.text)).toEqual([]);
      } finally {
        await repairLog();
      }
      // The failed read committed no ALLOWED entry; at most the failure itself was recorded.
      const after = await entries(database);
      const added = after.slice(before.length);
      expect(after.slice(0, before.length)).toEqual(before);
      expect(added.filter((e) => !(e.outcome === 'ERROR' && e.errorCode === 'AUDIT_UNAVAILABLE'))).toEqual([]);
      await expectClean();

      const recovered = await readRoster();
      expect(leakedPersonalData(recovered.text).length).toBeGreaterThan(0);
      const latest = (await entries(database)).at(-1)!;
      expect(BigInt(latest.seq)).toBe(BigInt(after.at(-1)!.seq) + 1n);
      expect(latest).toMatchObject({ outcome: 'ALLOWED', actor: 'door-manager', purpose: 'ticketing', tenantId: 'northwind-live' });
      expect(latest.fields).toEqual(expect.arrayContaining(['Attendee.name', 'Attendee.email']));
      await expectClean();
    }

    it('when the application role may not insert', async () => {
      await expectFailsClosed(
        async () => {
          await sql`revoke insert on access_log from custodian_app`.execute(database.owner.db);
        },
        async () => {
          await sql`grant insert on access_log to custodian_app`.execute(database.owner.db);
        },
      );
    });

    it('when no partition takes the entry', async () => {
      await readRoster();
      const month = await currentPartition(database);
      expect(month).toMatch(/^access_log_\d{4}_\d{2}$/);
      const bounds = await partitionBounds(database, month);
      await expectFailsClosed(
        async () => {
          await sql`alter table access_log detach partition access_log_default`.execute(database.owner.db);
          await sql`alter table access_log detach partition ${sql.id(month)}`.execute(database.owner.db);
        },
        async () => {
          await sql`alter table access_log attach partition ${sql.id(month)} ${sql.raw(bounds)}`.execute(database.owner.db);
          await sql`alter table access_log attach partition access_log_default default`.execute(database.owner.db);
        },
      );
    });
  });

  describe('is append-only', () => {
    beforeAll(async () => {
      // Row triggers only fire on rows: make sure there are some.
      await readRoster();
      await readRoster();
    });

    it.each([
      ['update', 'update access_log set actor = \'x\''],
      ['delete', 'delete from access_log'],
      ['truncate', 'truncate access_log'],
      ['truncate the month', 'truncate {month}'],
      ['delete the head', 'delete from access_log_head'],
      ['truncate the head', 'truncate access_log_head'],
    ])('refuses %s even to the owner', async (_name, statement) => {
      const month = await currentPartition(database);
      const before = await snapshot(database);
      await expect(asOwner(database, (trx) => sql.raw(statement.replace('{month}', month)).execute(trx))).rejects.toThrow(/append-only/);
      expect(await snapshot(database)).toEqual(before);
    });

    it.each([
      ['update', 'update access_log set actor = \'x\''],
      ['delete', 'delete from access_log'],
      ['update the head', 'update access_log_head set seq = 0'],
    ])('refuses %s to custodian_app', async (_name, statement) => {
      const before = await snapshot(database);
      await expect(
        database.app.db.transaction().execute(async (trx) => {
          await sql`select set_config('role', 'custodian_app', true), set_config('app.scope', 'platform', true), set_config('app.purpose', 'security-audit', true)`.execute(trx);
          await sql.raw(statement).execute(trx);
        }),
      ).rejects.toThrow(/permission denied|append-only/);
      expect(await snapshot(database)).toEqual(before);
    });
  });

  describe('under fifty concurrent readers', () => {
    it('chains exactly one entry each, with no gap or duplicate', async () => {
      const before = await entries(database);
      const tenants = ['northwind-live', 'harbor-jazz', 'civic-theatre'];
      const purposes = ['ticketing', 'event-communication', 'audience-insights'];
      const responses = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const token = await organizer(tenants[i % 3], `reader-${i}`);
          return rawRequest(gateway, token, `query Reader${i} { attendees(first: 3) { edges { node { id name } } } }`, purposes[Math.floor(i / 3) % 3]);
        }),
      );
      for (const response of responses) {
        expect(response.status).toBe(200);
        expect(response.body.errors).toBeUndefined();
      }
      const after = await entries(database);
      const added = after.slice(before.length);
      expect(added).toHaveLength(50);
      expect(after.map((e) => e.seq)).toEqual(after.map((_, i) => String(i + 1)));
      expect(added.map((e) => e.actor).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `reader-${i}`).sort());
      for (const entry of added) {
        const i = Number(entry.actor.slice('reader-'.length));
        expect(entry).toMatchObject({ tenantId: tenants[i % 3], purpose: purposes[Math.floor(i / 3) % 3], operationName: `Reader${i}`, outcome: 'ALLOWED' });
      }
      const report = await expectClean();
      expect(report.entries).toBe(after.length);
      expect(report.head.seq).toBe(String(after.length));
    });
  });

  describe('names the entry that was tampered with', () => {
    let saved: LogSnapshot;
    let count: number;
    let config: Config;
    let dataDir: string;

    beforeAll(async () => {
      for (let i = 0; i < 10; i += 1) await readRoster();
      count = (await entries(database)).length;
      saved = await snapshot(database);
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-checkpoint-'));
      config = loadConfig({ DATA_DIR: dataDir });
    });
    afterAll(() => {
      if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
    });

    // Each case starts from the intact log and leaves it intact.
    async function expectProblem(
      change: (trx: ScopedTransaction) => Promise<void>,
      expected: { seq: number; kind: string | RegExp },
      checkpoint?: () => Promise<Parameters<typeof verifyChain>[1]>,
    ) {
      const report = await verifyChain(database.owner.db);
      expect(report.problem).toBeUndefined();
      expect(report.entries).toBe(count);
      const cp = checkpoint === undefined ? undefined : await checkpoint();
      await tamper(database, change);
      try {
        const tampered = await verifyChain(database.owner.db, cp);
        expect(tampered.problem?.seq).toBe(String(expected.seq));
        expect(tampered.problem?.kind).toMatch(expected.kind);
      } finally {
        await restore(database, saved);
      }
      await expectClean();
    }

    const middle = () => Math.floor(count / 2);

    it('an edited entry', async () => {
      await expectProblem(async (trx) => {
        await sql`update access_log set actor = 'someone-else' where seq = ${middle()}`.execute(trx);
      }, { seq: middle(), kind: /^EDITED$/ });
    });

    it('an entry with its people edited out', async () => {
      await expectProblem(async (trx) => {
        await sql`update access_log set subjects = '{}', exposure = '{}' where seq = ${middle()}`.execute(trx);
      }, { seq: middle(), kind: /^EDITED$/ });
    });

    it('an entry deleted from the middle', async () => {
      await expectProblem(async (trx) => {
        await sql`delete from access_log where seq = ${middle()}`.execute(trx);
      }, { seq: middle(), kind: /^DELETED$/ });
    });

    it('the last entries cut off', async () => {
      await expectProblem(async (trx) => {
        await sql`delete from access_log where seq > ${count - 2}`.execute(trx);
      }, { seq: count - 1, kind: /^TRUNCATED$/ });
    });

    it('two entries swapped', async () => {
      const [a, b] = [middle() - 1, middle() + 1];
      await expectProblem(async (trx) => {
        await sql`update access_log set seq = case seq when ${a}::bigint then ${b}::bigint else ${a}::bigint end where seq in (${a}::bigint, ${b}::bigint)`.execute(trx);
      }, { seq: a, kind: /^(REORDERED_OR_INSERTED|EDITED)$/ });
    });

    async function forgedCopy(trx: Kysely<Database>, of: number) {
      const original = (await entriesOf(trx)).find((e) => e.seq === String(of))!;
      const forged = { ...original, actor: 'forger', at: new Date(original.at.getTime() + 1) };
      return { original, forged, forgedHash: contentHash(forged) };
    }

    async function insertEntry(trx: Kysely<Database>, row: AccessLogRow, seq: string, hashes: { content: string; prev: string; hash: string }) {
      await sql`insert into access_log (seq, at, actor, role, tenant_id, purpose, operation_name, request_id, token_id, client_address,
          subjects, fields, masked, exposure, outcome, error_code, correlation_id, masked_by_subject, aggregates, content_hash, prev_hash, hash)
        values (${seq}::bigint, ${row.at}, ${row.actor}, ${row.role}, ${row.tenantId}, ${row.purpose}, ${row.operationName}, ${row.requestId},
          ${row.tokenId}, ${row.clientAddress}, ${[...row.subjects]}::text[], ${[...row.fields]}::text[], ${[...row.masked]}::text[],
          ${JSON.stringify(row.exposure)}::jsonb, ${row.outcome}, ${row.errorCode}, ${row.correlationId}, ${JSON.stringify(row.maskedBySubject)}::jsonb,
          ${[...row.aggregates]}::text[], ${hashes.content}, ${hashes.prev}, ${hashes.hash})`.execute(trx);
    }

    it('a forged entry appended with a made-up hash', async () => {
      await expectProblem(async (trx) => {
        const { forged, forgedHash } = await forgedCopy(trx, middle());
        const head = await chainHead(trx);
        await insertEntry(trx, forged, String(count + 1), { content: forgedHash, prev: head.hash, hash: 'f'.repeat(64) });
        await sql`update access_log_head set seq = ${count + 1}::bigint`.execute(trx);
      }, { seq: count + 1, kind: /^FORGED$/ });
    });

    it('a forged entry slipped in beside a real one', async () => {
      await expectProblem(async (trx) => {
        const { original, forged, forgedHash } = await forgedCopy(trx, middle());
        await insertEntry(trx, forged, original.seq, {
          content: forgedHash,
          prev: original.prevHash!,
          hash: chainHash(original.prevHash!, original.seq, forgedHash),
        });
      }, { seq: middle(), kind: /^REORDERED_OR_INSERTED$/ });
    });

    // A superuser who edits an entry and recomputes every later link leaves a consistent chain:
    // only a checkpoint signed before the rewrite tells.
    async function rewriteFrom(trx: Kysely<Database>, from: number) {
      const rows = await entriesOf(trx);
      let prev = rows[from - 2]!.hash;
      for (const row of rows.slice(from - 1)) {
        const content = row.seq === String(from) ? { ...row, actor: 'someone-else' } : row;
        const hashes = { content: contentHash(content), prev, hash: '' };
        hashes.hash = chainHash(prev, row.seq, hashes.content);
        await sql`update access_log set actor = ${content.actor}, content_hash = ${hashes.content}, prev_hash = ${hashes.prev}, hash = ${hashes.hash}
          where seq = ${row.seq}::bigint`.execute(trx);
        prev = hashes.hash;
      }
      await sql`update access_log_head set hash = ${prev}`.execute(trx);
    }

    it('a rewrite of the whole chain passes on its own', async () => {
      await tamper(database, (trx) => rewriteFrom(trx, middle()));
      try {
        const report = await verifyChain(database.owner.db);
        expect(report.problem).toBeUndefined();
        expect(report.entries).toBe(count);
        expect((await entries(database))[middle() - 1]!.actor).toBe('someone-else');
      } finally {
        await restore(database, saved);
      }
    });

    it('a rewrite of the whole chain is caught by a checkpoint signed before it', async () => {
      const env = {};
      await expectProblem((trx) => rewriteFrom(trx, middle()), { seq: count, kind: /^CHECKPOINT$/ }, async () => {
        const head = await asOwner(database, (trx) => chainHead(trx));
        expect(head.seq).toBe(String(count));
        const checkpoint = await readCheckpoint(config, await signCheckpoint(config, head, env), env);
        expect(checkpoint).toMatchObject(head);
        // The intact chain agrees with it.
        expect((await verifyChain(database.owner.db, checkpoint)).problem).toBeUndefined();
        return checkpoint;
      });
    });

    it('refuses a checkpoint that was altered or signed by another key', async () => {
      const env = {};
      const head = await asOwner(database, (trx) => chainHead(trx));
      const jws = await signCheckpoint(config, head, env);
      const [header, payload, signature] = jws.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      const altered = Buffer.from(JSON.stringify({ ...claims, hash: '0'.repeat(64) })).toString('base64url');
      await expect(readCheckpoint(config, `${header}.${altered}.${signature}`, env)).rejects.toThrow(/does not verify/);
      await expect(readCheckpoint(config, `${header}.${payload}.${signature.slice(0, -4)}AAAA`, env)).rejects.toThrow(/does not verify/);

      const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-other-checkpoint-'));
      try {
        const foreign = await signCheckpoint(loadConfig({ DATA_DIR: otherDir }), head, env);
        await expect(readCheckpoint(config, foreign, env)).rejects.toThrow(/does not verify/);
      } finally {
        fs.rmSync(otherDir, { recursive: true, force: true });
      }
    });

    it.runIf(kind === 'postgres')('npm run audit:verify exits 1 naming the entry, and 0 on the intact log', async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, MIGRATE_DATABASE_URL: database.ownerUrl!, DATABASE_URL: database.appUrl!, DATA_DIR: dataDir };
      for (const name of ['NODE_ENV', 'AUDIT_CHECKPOINT_KEY_FILE', 'AUDIT_CHECKPOINT_PUBLIC_KEY_FILE']) delete env[name];
      const audit = () =>
        run(TSX, ['src/cli/audit.ts', 'verify'], { cwd: projectRoot, env }).then(
          ({ stdout }) => ({ code: 0, stdout }),
          (error: { code?: number; stdout?: string }) => ({ code: error.code, stdout: error.stdout }),
        );
      expect(await audit()).toEqual({ code: 0, stdout: expect.stringContaining(`access log: OK, ${count} entries`) });

      await tamper(database, async (trx) => {
        await sql`update access_log set purpose = 'marketing' where seq = ${middle()}`.execute(trx);
      });
      try {
        expect(await audit()).toEqual({ code: 1, stdout: expect.stringContaining(`FAILED at entry ${middle()} (EDITED)`) });
      } finally {
        await restore(database, saved);
      }
    }, 600_000);
  });
});
