import { sql, type Kysely } from 'kysely';

/**
 * How many independent chains the access log has. A fact of the schema, fixed here: the verifier
 * expects exactly chains 0..ACCESS_LOG_CHAINS-1 (src/audit/chains.ts), so a whole chain deleted
 * together with its head row is still missed. More chains would take a new migration that adds
 * rows and exports the new count.
 */
export const ACCESS_LOG_CHAINS = 64;

/*
 * The access log without a global lock (issue 10, part 3).
 *
 * Until now (0004) every entry took the one-row access_log_head FOR UPDATE and held it until the
 * request's transaction committed: every personal-data read on the platform queued behind the one
 * before it (a ceiling of 140–330 entries/s, the same at 1 or 32 clients).
 *
 * - Several independent hash chains. access_log_chains holds one head per chain (chain, link,
 *   hash). The chaining trigger takes the first head it can lock without waiting, starting at
 *   pg_backend_pid() % chains (one primary-key probe when that one is free) and wrapping
 *   (`FOR UPDATE SKIP LOCKED LIMIT 1`): a writer never waits for another while a chain is free,
 *   and a connection keeps using "its" chain. Only when every chain is held by an open
 *   transaction does it wait, on its own chain.
 *   Each head is still held until commit, so each chain stays one linear sequence of committed
 *   entries; what there is no longer is one order across chains, and none is needed.
 * - An entry records chain and link (its position in that chain); hash = SHA-256(prev_hash:link:
 *   content_hash), the formula of 0004 with link where seq was. Chain 0 continues the existing
 *   chain: it takes over access_log_head's position and hash, and entries written before this
 *   migration read as chain 0 (the column default, with no rewrite) with link = seq (link null).
 * - Chain c > 0 starts from its own genesis hash, SHA-256('custodian-access-log-chain:c'), not a
 *   shared one: an entry's hash then commits to the chain it was written in, so an entry moved
 *   from one chain to another (or the start of one chain passed off as another's) never links.
 * - seq stays globally unique (cursors and access_log_subjects use (at, seq)) but now comes from
 *   a sequence, set past every seq used so far: nextval takes no lock a transaction holds. A gap
 *   in seq (a rolled-back insert) is no longer evidence of anything; a gap in link within a chain
 *   is, and audit:verify names it.
 * - access_log_chains is guarded like the log: no INSERT, DELETE or TRUNCATE for anyone, the
 *   owner included, and an UPDATE only moves a head forward by exactly one link (what the
 *   trigger does); custodian_app has no privilege on it at all and reaches it only through the
 *   SECURITY DEFINER trigger. Rewinding or deleting a head therefore takes disabling triggers,
 *   which audit:verify then catches (an entry beyond its head, a missing head, a head that does
 *   not match its last entry), and a signed checkpoint vouches for every head.
 * - fillfactor 10 spreads the 64 small, constantly updated head rows over several pages, so
 *   updates stay HOT and writers on different chains do not contend for one buffer.
 * - access_log_head is dropped: it would otherwise stay behind as a second, stale "head" that
 *   a reader could trust. Its position lives on as chain 0's head.
 * - access_log_cuts gains heads: where retention cut each chain (see src/privacy/retention.ts).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const chains = ACCESS_LOG_CHAINS;
  // First, so no entry can be written while the head moves over (ACCESS EXCLUSIVE until commit).
  await sql`alter table access_log
    add column chain smallint not null default 0,
    add column link bigint`.execute(db);
  await sql`create index access_log_by_chain on access_log (chain, (coalesce(link, seq)))`.execute(db);

  await sql`create sequence access_log_seq as bigint owned by access_log.seq`.execute(db);
  await sql`select setval('access_log_seq', greatest((select max(seq) from access_log), (select seq from access_log_head), 0) + 1, false)`.execute(db);

  await sql`create table access_log_chains (
    chain smallint primary key check (chain >= 0 and chain < ${sql.lit(chains)}),
    link bigint not null check (link >= 0),
    hash text not null check (hash ~ '^[0-9a-f]{64}$')
  ) with (fillfactor = 10)`.execute(db);
  await sql`insert into access_log_chains (chain, link, hash) select 0, seq, hash from access_log_head`.execute(db);
  await sql`insert into access_log_chains (chain, link, hash)
    select c, 0, encode(sha256(convert_to('custodian-access-log-chain:' || c, 'UTF8')), 'hex')
    from generate_series(1, ${sql.lit(chains - 1)}) c`.execute(db);

  await sql`create or replace function custodian_access_log_chain() returns trigger language plpgsql
    security definer set search_path = public, pg_temp as $$
    declare
      head record;
      own smallint := pg_backend_pid() % ${sql.lit(chains)};
    begin
      -- Usually the connection's own chain is free: one primary-key probe.
      select chain, link, hash into head from access_log_chains where chain = own for update skip locked;
      if not found then
        select chain, link, hash into head from access_log_chains
          order by (chain + ${sql.lit(chains)} - own) % ${sql.lit(chains)}
          for update skip locked limit 1;
      end if;
      if not found then
        select chain, link, hash into head from access_log_chains where chain = own for update;
        if not found then
          raise exception 'access_log_chains has no head for chain %', own using errcode = 'object_not_in_prerequisite_state';
        end if;
      end if;
      new.seq := nextval('access_log_seq');
      new.chain := head.chain;
      new.link := head.link + 1;
      new.prev_hash := head.hash;
      new.hash := encode(sha256(convert_to(head.hash || ':' || new.link::text || ':' || new.content_hash, 'UTF8')), 'hex');
      update access_log_chains set link = new.link, hash = new.hash where chain = head.chain;
      insert into access_log_subjects (person_id, at, seq) select distinct unnest(new.subjects), new.at, new.seq;
      return new;
    end $$`.execute(db);

  await sql`create function custodian_access_log_chain_advance() returns trigger language plpgsql as $$
    begin
      if new.chain <> old.chain or new.link <> old.link + 1 then
        raise exception 'access_log_chains is append-only: a chain head only moves forward one link at a time'
          using errcode = 'insufficient_privilege';
      end if;
      return new;
    end $$`.execute(db);
  await sql`create trigger access_log_chains_advance_only before update on access_log_chains
    for each row execute function custodian_access_log_chain_advance()`.execute(db);
  await sql`create trigger access_log_chains_append_only before insert or delete on access_log_chains
    for each row execute function custodian_access_log_append_only()`.execute(db);
  await sql`create trigger access_log_chains_no_truncate before truncate on access_log_chains
    for each statement execute function custodian_access_log_append_only()`.execute(db);
  await sql`revoke all on access_log_chains from public`.execute(db);

  await sql`drop table access_log_head`.execute(db);

  // Per chain, the last entry retention dropped: [{chain, link, hash}] (null on cuts made before).
  await sql`alter table access_log_cuts add column heads jsonb`.execute(db);
}
