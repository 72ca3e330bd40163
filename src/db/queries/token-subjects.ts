import type { Kysely } from 'kysely';
import { withScope } from '../request-scope.js';
import type { Database } from '../tables.js';

/** Whether a tenant and a person exist, read as a platform caller would (under row-level security). */
export async function subjectsExist(
  db: Kysely<Database>,
  ids: { tenant?: string | undefined; person?: string | undefined },
): Promise<{ tenant: boolean | undefined; person: boolean | undefined }> {
  return withScope(db, { kind: 'platform' }, async (trx) => ({
    tenant: ids.tenant === undefined ? undefined : (await trx.selectFrom('tenants').select('id').where('id', '=', ids.tenant).executeTakeFirst()) !== undefined,
    person: ids.person === undefined ? undefined : (await trx.selectFrom('people').select('id').where('id', '=', ids.person).executeTakeFirst()) !== undefined,
  }));
}
