import { sql, type Kysely } from 'kysely';

/*
 * The shared rate-limit store for several gateway processes (RATE_LIMIT_STORE=postgres): the
 * table rate-limiter-flexible's RateLimiterPostgres uses, created here because custodian_app may
 * not create tables. Keys are SHA-256 digests of the caller (token subject, tenant), never the
 * identifiers themselves; rows hold counters and an expiry only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table rate_limits (
    key varchar(255) primary key,
    points integer not null default 0,
    expire bigint
  )`.execute(db);
  await sql`grant select, insert, update, delete on rate_limits to custodian_app`.execute(db);
}
