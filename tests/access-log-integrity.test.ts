import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint, signCheckpoint } from '../src/audit/checkpoint.js';
import { CompactSign, importJWK } from 'jose';
import { CHAINS, type ChainHead } from '../src/audit/chains.js';
import { chainHash, contentHash, genesisHash } from '../src/audit/entry-hash.js';
import { loadOrCreateDevKeys } from '../src/auth/dev-keys.js';
import { verifyChain, type ChainReport } from '../src/audit/verify-chain.js';
import { loadConfig, projectRoot, type Config } from '../src/config.js';
import type { DatabaseHandle } from '../src/db/database.js';
import { chainHeads, chainPage, type AccessLogRow } from '../src/db/queries/access-log.js';
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
  const rows = await chainPage(db, { chain: -1, link: '0' }, 100_000);
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

/** Alters the log's rows and chain heads behind the triggers' back, as only the owner or a superuser can. */
function tamper(database: TestDatabase, work: (trx: ScopedTransaction) => Promise<void>): Promise<void> {
  return asOwner(database, async (trx) => {
    await sql`alter table access_log disable trigger user`.execute(trx);
    await sql`alter table access_log_chains disable trigger user`.execute(trx);
    await work(trx);
    await sql`alter table access_log enable trigger user`.execute(trx);
    await sql`alter table access_log_chains enable trigger user`.execute(trx);
  });
}

interface LogSnapshot {
  rows: string;
  heads: ChainHead[];
}

async function snapshot(database: TestDatabase): Promise<LogSnapshot> {
  return asOwner(database, async (trx) => {
    const rows = await sql<{ rows: unknown }>`select coalesce(jsonb_agg(to_jsonb(a)), '[]') as rows from access_log a`.execute(trx);
    return { rows: JSON.stringify(rows.rows[0]!.rows), heads: await chainHeads(trx) };
  });
}

/** Puts the log back exactly as it was, so each tampering is judged on an otherwise intact chain. */
async function restore(database: TestDatabase, saved: LogSnapshot): Promise<void> {
  await tamper(database, async (trx) => {
    await sql`delete from access_log`.execute(trx);
    await sql`insert into access_log select * from jsonb_populate_recordset(null::access_log, ${saved.rows}::jsonb)`.execute(trx);
    await sql`insert into access_log_chains (chain, link, hash)
      select chain, link, hash from jsonb_to_recordset(${JSON.stringify(saved.heads)}::jsonb) as h(chain smallint, link bigint, hash text)
      on conflict (chain) do update set link = excluded.link, hash = excluded.hash`.execute(trx);
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
      expect(BigInt(latest.seq)).toBeGreaterThan(BigInt(after.at(-1)!.seq));
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
      ['delete a chain head', 'delete from access_log_chains where chain = 5'],
      ['truncate the chain heads', 'truncate access_log_chains'],
      ['rewind a chain head', 'update access_log_chains set link = link - 1, hash = hash where link > 0'],
      ['move a chain head on by two', 'update access_log_chains set link = link + 2 where chain = 5'],
      ['change a chain head\'s number', 'update access_log_chains set chain = 99, link = link + 1 where chain = 63'],
      ['add a chain', `insert into access_log_chains values (99, 0, '${'0'.repeat(64)}')`],
    ])('refuses %s even to the owner', async (_name, statement) => {
      const month = await currentPartition(database);
      const before = await snapshot(database);
      await expect(asOwner(database, (trx) => sql.raw(statement.replace('{month}', month)).execute(trx))).rejects.toThrow(/append-only/);
      expect(await snapshot(database)).toEqual(before);
    });

    it.each([
      ['update', 'update access_log set actor = \'x\''],
      ['delete', 'delete from access_log'],
      ['update a chain head', 'update access_log_chains set link = link + 1, hash = hash'],
      ['read the chain heads', 'select * from access_log_chains'],
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
    it('chains exactly one entry each, with no gap or duplicate in any chain', async () => {
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
      expect(new Set(after.map((e) => e.seq)).size).toBe(after.length);
      // Each chain's links run 1, 2, 3, … with nothing skipped or doubled.
      const links = new Map<number, string[]>();
      for (const entry of after) links.set(entry.chain, [...(links.get(entry.chain) ?? []), entry.link]);
      for (const chainLinks of links.values()) {
        expect(chainLinks.sort((a, b) => Number(a) - Number(b))).toEqual(chainLinks.map((_, i) => String(i + 1)));
      }
      expect(added.map((e) => e.actor).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `reader-${i}`).sort());
      for (const entry of added) {
        const i = Number(entry.actor.slice('reader-'.length));
        expect(entry).toMatchObject({ tenantId: tenants[i % 3], purpose: purposes[Math.floor(i / 3) % 3], operationName: `Reader${i}`, outcome: 'ALLOWED' });
      }
      const report = await expectClean();
      expect(report.entries).toBe(after.length);
      expect(report.chains).toBe(CHAINS);
      for (const [chain, chainLinks] of links) expect(report.heads[chain]).toMatchObject({ chain, link: String(chainLinks.length) });
    });
  });

  describe('names the entry that was tampered with', () => {
    let saved: LogSnapshot;
    let config: Config;
    let dataDir: string;
    /** The chain tampered with: the one the latest reads went to (PGlite: pg_backend_pid() % 64 = 42, never chain 0). */
    let chain: number;
    /** That chain's entries, in link order. */
    let inChain: AccessLogRow[];
    let count: number;

    beforeAll(async () => {
      for (let i = 0; i < 10; i += 1) await readRoster();
      const all = await entries(database);
      count = all.length;
      chain = all.at(-1)!.chain;
      inChain = all.filter((e) => e.chain === chain).sort((a, b) => Number(a.link) - Number(b.link));
      expect(inChain.length).toBeGreaterThanOrEqual(6);
      if (kind === 'pglite') expect(chain).toBe(42);
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
      expected: { chain?: number; link: string; seq: string | undefined; kind: string | RegExp },
      checkpoint?: () => Promise<Parameters<typeof verifyChain>[1]>,
    ) {
      const report = await verifyChain(database.owner.db);
      expect(report.problem).toBeUndefined();
      expect(report.entries).toBe(count);
      const cp = checkpoint === undefined ? undefined : await checkpoint();
      await tamper(database, change);
      try {
        const tampered = await verifyChain(database.owner.db, cp);
        expect(tampered.problem).toMatchObject({ chain: expected.chain ?? chain, link: expected.link, seq: expected.seq });
        expect(tampered.problem?.kind).toMatch(expected.kind);
        expect(tampered.problem?.message).toContain(`chain ${expected.chain ?? chain}`);
        if (tampered.problem?.seq !== undefined) expect(tampered.problem.message).toContain(`entry ${tampered.problem.seq} (chain`);
      } finally {
        await restore(database, saved);
      }
      await expectClean();
    }

    const middle = () => inChain[Math.floor(inChain.length / 2)]!;
    const last = () => inChain.at(-1)!;
    /** A chain nobody wrote to, before `chain` in verification order when there is one. */
    const emptyChain = () => {
      const empty = saved.heads.filter((h) => h.link === '0').map((h) => h.chain);
      return empty.find((c) => c < chain) ?? empty[0]!;
    };

    it('an edited entry', async () => {
      const entry = middle();
      await expectProblem(async (trx) => {
        await sql`update access_log set actor = 'someone-else' where seq = ${entry.seq}::bigint`.execute(trx);
      }, { link: entry.link, seq: entry.seq, kind: /^EDITED$/ });
    });

    it('an entry with its people edited out', async () => {
      const entry = middle();
      await expectProblem(async (trx) => {
        await sql`update access_log set subjects = '{}', exposure = '{}' where seq = ${entry.seq}::bigint`.execute(trx);
      }, { link: entry.link, seq: entry.seq, kind: /^EDITED$/ });
    });

    it('an entry deleted from the middle', async () => {
      const entry = middle();
      await expectProblem(async (trx) => {
        await sql`delete from access_log where seq = ${entry.seq}::bigint`.execute(trx);
      }, { link: entry.link, seq: undefined, kind: /^DELETED$/ });
    });

    it('the newest entry of a chain deleted', async () => {
      await expectProblem(async (trx) => {
        await sql`delete from access_log where seq = ${last().seq}::bigint`.execute(trx);
      }, { link: last().link, seq: undefined, kind: /^TRUNCATED$/ });
    });

    it('the last entries of a chain cut off', async () => {
      const from = inChain.at(-2)!;
      await expectProblem(async (trx) => {
        await sql`delete from access_log where chain = ${chain}::smallint and link >= ${from.link}::bigint`.execute(trx);
      }, { link: from.link, seq: undefined, kind: /^TRUNCATED$/ });
    });

    it('two entries swapped', async () => {
      const [a, b] = [inChain[1]!, inChain[3]!];
      await expectProblem(async (trx) => {
        await sql`update access_log set link = case seq when ${a.seq}::bigint then ${b.link}::bigint else ${a.link}::bigint end
          where seq in (${a.seq}::bigint, ${b.seq}::bigint)`.execute(trx);
      }, { link: a.link, seq: b.seq, kind: /^(REORDERED_OR_INSERTED|FORGED)$/ });
    });

    it('an entry moved to another chain', async () => {
      const entry = middle();
      const other = emptyChain();
      // Where it left a gap, or where it does not follow the other chain's start: whichever is walked first.
      const expected = other < chain
        ? { chain: other, link: '1', seq: entry.seq, kind: /^REORDERED_OR_INSERTED$/ }
        : { link: entry.link, seq: undefined, kind: /^DELETED$/ };
      await expectProblem(async (trx) => {
        await sql`update access_log set chain = ${other}::smallint, link = 1 where seq = ${entry.seq}::bigint`.execute(trx);
        await sql`update access_log_chains set link = 1, hash = ${entry.hash} where chain = ${other}::smallint`.execute(trx);
      }, expected);
    });

    it("a chain's first entry passed off as another chain's, with both heads made to agree", async () => {
      // Only the chains' distinct genesis hashes tell: the entry links to its own chain's start.
      const first = inChain[0]!;
      const other = emptyChain();
      await expectProblem(async (trx) => {
        await sql`update access_log set chain = ${other}::smallint where seq = ${first.seq}::bigint`.execute(trx);
        await sql`update access_log_chains set link = 1, hash = ${first.hash} where chain = ${other}::smallint`.execute(trx);
        // The rest of the original chain re-linked from its start, as a superuser could.
        let prev = genesisHash(chain);
        for (const row of inChain.slice(1)) {
          const link = String(Number(row.link) - 1);
          const hash = chainHash(prev, link, row.contentHash);
          await sql`update access_log set link = ${link}::bigint, prev_hash = ${prev}, hash = ${hash} where seq = ${row.seq}::bigint`.execute(trx);
          prev = hash;
        }
        await sql`update access_log_chains set link = link - 1, hash = ${prev} where chain = ${chain}::smallint`.execute(trx);
      }, { chain: other, link: '1', seq: first.seq, kind: /^REORDERED_OR_INSERTED$/ });
    });

    it('a chain head rewound by one', async () => {
      const before = inChain.at(-2)!;
      await expectProblem(async (trx) => {
        await sql`update access_log_chains set link = ${before.link}::bigint, hash = ${before.hash} where chain = ${chain}::smallint`.execute(trx);
      }, { link: last().link, seq: last().seq, kind: /^REORDERED_OR_INSERTED$/ });
    });

    it('a chain head rewound together with the newest entry: only a checkpoint tells', async () => {
      const before = inChain.at(-2)!;
      const env = {};
      const rewind = async (trx: ScopedTransaction) => {
        await sql`delete from access_log where seq = ${last().seq}::bigint`.execute(trx);
        await sql`update access_log_chains set link = ${before.link}::bigint, hash = ${before.hash} where chain = ${chain}::smallint`.execute(trx);
      };
      await tamper(database, rewind);
      try {
        expect((await verifyChain(database.owner.db)).problem).toBeUndefined();
      } finally {
        await restore(database, saved);
      }
      await expectProblem(rewind, { link: last().link, seq: undefined, kind: /^CHECKPOINT$/ }, async () =>
        readCheckpoint(config, await signCheckpoint(config, await asOwner(database, chainHeads), env), env),
      );
    });

    it("a chain's head row deleted", async () => {
      await expectProblem(async (trx) => {
        await sql`delete from access_log_chains where chain = ${chain}::smallint`.execute(trx);
      }, { link: String(Number(last().link) + 1), seq: undefined, kind: /^TRUNCATED$/ });
    });

    it('a whole chain deleted, head row and all', async () => {
      await expectProblem(async (trx) => {
        await sql`delete from access_log where chain = ${chain}::smallint`.execute(trx);
        await sql`delete from access_log_chains where chain = ${chain}::smallint`.execute(trx);
      }, { link: '1', seq: undefined, kind: /^TRUNCATED$/ });
    });

    async function forgedCopy(trx: Kysely<Database>, of: AccessLogRow) {
      const original = (await entriesOf(trx)).find((e) => e.seq === of.seq)!;
      const forged = { ...original, actor: 'forger', at: new Date(original.at.getTime() + 1) };
      return { original, forged, forgedHash: contentHash(forged) };
    }

    async function insertEntry(trx: Kysely<Database>, row: AccessLogRow, at: { seq: string; chain: number; link: string }, hashes: { content: string; prev: string; hash: string }) {
      await sql`insert into access_log (seq, chain, link, at, actor, role, tenant_id, purpose, operation_name, request_id, token_id, client_address,
          subjects, fields, masked, exposure, outcome, error_code, correlation_id, masked_by_subject, aggregates, content_hash, prev_hash, hash)
        values (${at.seq}::bigint, ${at.chain}::smallint, ${at.link}::bigint, ${row.at}, ${row.actor}, ${row.role}, ${row.tenantId}, ${row.purpose}, ${row.operationName}, ${row.requestId},
          ${row.tokenId}, ${row.clientAddress}, ${[...row.subjects]}::text[], ${[...row.fields]}::text[], ${[...row.masked]}::text[],
          ${JSON.stringify(row.exposure)}::jsonb, ${row.outcome}, ${row.errorCode}, ${row.correlationId}, ${JSON.stringify(row.maskedBySubject)}::jsonb,
          ${[...row.aggregates]}::text[], ${hashes.content}, ${hashes.prev}, ${hashes.hash})`.execute(trx);
    }

    it('a forged entry appended with a made-up hash', async () => {
      const link = String(Number(last().link) + 1);
      await expectProblem(async (trx) => {
        const { forged, forgedHash } = await forgedCopy(trx, middle());
        await insertEntry(trx, forged, { seq: '999999', chain, link }, { content: forgedHash, prev: last().hash, hash: 'f'.repeat(64) });
        await sql`update access_log_chains set link = ${link}::bigint, hash = ${'f'.repeat(64)} where chain = ${chain}::smallint`.execute(trx);
      }, { link, seq: '999999', kind: /^FORGED$/ });
    });

    it('a forged entry slipped in beside a real one', async () => {
      const entry = middle();
      await expectProblem(async (trx) => {
        const { original, forged, forgedHash } = await forgedCopy(trx, entry);
        await insertEntry(trx, forged, { seq: '999999', chain, link: original.link }, {
          content: forgedHash,
          prev: original.prevHash!,
          hash: chainHash(original.prevHash!, original.link, forgedHash),
        });
      }, {
        // Whichever of the two is walked second is the one named.
        link: entry.link, seq: expect.stringMatching(new RegExp(`^(${entry.seq}|999999)$`)) as unknown as string, kind: /^REORDERED_OR_INSERTED$/ });
    });

    // A superuser who edits an entry and recomputes every later link and the head leaves a
    // consistent chain: only a checkpoint signed before the rewrite tells.
    async function rewriteFrom(trx: Kysely<Database>, from: AccessLogRow) {
      const rows = (await entriesOf(trx)).filter((e) => e.chain === chain).sort((a, b) => Number(a.link) - Number(b.link));
      const index = rows.findIndex((row) => row.seq === from.seq);
      let prev = index === 0 ? genesisHash(chain) : rows[index - 1]!.hash;
      for (const row of rows.slice(index)) {
        const content = row.seq === from.seq ? { ...row, actor: 'someone-else' } : row;
        const hashes = { content: contentHash(content), prev, hash: '' };
        hashes.hash = chainHash(prev, row.link, hashes.content);
        await sql`update access_log set actor = ${content.actor}, content_hash = ${hashes.content}, prev_hash = ${hashes.prev}, hash = ${hashes.hash}
          where seq = ${row.seq}::bigint`.execute(trx);
        prev = hashes.hash;
      }
      await sql`update access_log_chains set hash = ${prev} where chain = ${chain}::smallint`.execute(trx);
    }

    it('a rewrite of the whole chain passes on its own', async () => {
      await tamper(database, (trx) => rewriteFrom(trx, middle()));
      try {
        const report = await verifyChain(database.owner.db);
        expect(report.problem).toBeUndefined();
        expect(report.entries).toBe(count);
        expect((await entries(database)).find((e) => e.seq === middle().seq)!.actor).toBe('someone-else');
      } finally {
        await restore(database, saved);
      }
    });

    it('a rewrite of the whole chain is caught by a checkpoint signed before it', async () => {
      const env = {};
      await expectProblem((trx) => rewriteFrom(trx, middle()), { link: last().link, seq: last().seq, kind: /^CHECKPOINT$/ }, async () => {
        const heads = await asOwner(database, (trx) => chainHeads(trx));
        expect(heads).toHaveLength(CHAINS);
        expect(heads[chain]).toEqual({ chain, link: last().link, hash: last().hash });
        const checkpoint = await readCheckpoint(config, await signCheckpoint(config, heads, env), env);
        expect(checkpoint.heads).toEqual(heads);
        // The intact chain agrees with it.
        expect((await verifyChain(database.owner.db, checkpoint)).problem).toBeUndefined();
        return checkpoint;
      });
    });

    it('reads a checkpoint signed before chains as chain 0 at link seq', async () => {
      const env = {};
      const { privateJwk } = await loadOrCreateDevKeys(config.dataDir, 'audit-checkpoint-keys');
      const payload = { typ: 'custodian-access-log-checkpoint', seq: '7', hash: 'a'.repeat(64), at: '2024-01-01T00:00:00.000Z' };
      const jws = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: 'ES256', ...(privateJwk.kid === undefined ? {} : { kid: privateJwk.kid }) })
        .sign(await importJWK(privateJwk, 'ES256'));
      expect(await readCheckpoint(config, jws, env)).toEqual({ heads: [{ chain: 0, link: '7', hash: 'a'.repeat(64) }], at: payload.at });
    });

    it('refuses a checkpoint that was altered or signed by another key', async () => {
      const env = {};
      const heads = await asOwner(database, (trx) => chainHeads(trx));
      const jws = await signCheckpoint(config, heads, env);
      const [header, payload, signature] = jws.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
      const altered = Buffer.from(JSON.stringify({ ...claims, heads: heads.map((h) => ({ ...h, hash: '0'.repeat(64) })) })).toString('base64url');
      await expect(readCheckpoint(config, `${header}.${altered}.${signature}`, env)).rejects.toThrow(/does not verify/);
      await expect(readCheckpoint(config, `${header}.${payload}.${signature.slice(0, -4)}AAAA`, env)).rejects.toThrow(/does not verify/);

      const otherDir = fs.mkdtempSync(path.join(os.tmpdir(), 'custodian-other-checkpoint-'));
      try {
        const foreign = await signCheckpoint(loadConfig({ DATA_DIR: otherDir }), heads, env);
        await expect(readCheckpoint(config, foreign, env)).rejects.toThrow(/does not verify/);
      } finally {
        fs.rmSync(otherDir, { recursive: true, force: true });
      }
    });

    it.runIf(kind === 'postgres')('npm run audit:verify exits 1 naming the entry, and 0 on the intact log', async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, MIGRATE_DATABASE_URL: database.ownerUrl!, DATABASE_URL: database.appUrl!, DATA_DIR: dataDir };
      for (const name of ['NODE_ENV', 'AUDIT_CHECKPOINT_KEY_FILE', 'AUDIT_CHECKPOINT_PUBLIC_KEY_FILE']) delete env[name];
      const audit = (...args: string[]) =>
        run(TSX, ['src/cli/audit.ts', ...(args.length === 0 ? ['verify'] : args)], { cwd: projectRoot, env }).then(
          ({ stdout }) => ({ code: 0, stdout }),
          (error: { code?: number; stdout?: string }) => ({ code: error.code, stdout: error.stdout }),
        );
      expect(await audit()).toEqual({ code: 0, stdout: expect.stringContaining(`access log: OK, ${count} entries in ${CHAINS} chains`) });
      const file = path.join(dataDir, 'checkpoint.jws');
      expect(await audit('checkpoint', '--out', file)).toEqual({ code: 0, stdout: `Checkpoint of the heads of ${CHAINS} chains written to ${file}\n` });
      expect(await audit('verify', '--checkpoint', file)).toEqual({ code: 0, stdout: expect.stringMatching(/^access log: OK, .*, consistent with the checkpoint of /) });

      const entry = middle();
      await tamper(database, async (trx) => {
        await sql`update access_log set purpose = 'marketing' where seq = ${entry.seq}::bigint`.execute(trx);
      });
      try {
        expect(await audit()).toEqual({ code: 1, stdout: expect.stringContaining(`FAILED at entry ${entry.seq} (chain ${chain}, link ${entry.link}) (EDITED)`) });
      } finally {
        await restore(database, saved);
      }
    }, 600_000);
  });
});
