import { PGlite } from '@electric-sql/pglite';
import { openDatabase } from '/work/main/src/db/database.js';
import { migrateToLatest } from '/work/main/src/db/migrate.js';
import { importData } from '/work/main/src/privacy/import/import-data.js';
import { withScope } from '/work/main/src/db/request-scope.js';
import { beginScopedTransaction } from '/work/main/src/db/request-scope.js';
import { erase } from '/work/main/src/privacy/data-subject-service.js';
import fs from 'node:fs';
const pglite = await PGlite.create();
const h = await openDatabase({ pglite });
await migrateToLatest(h.db);
await importData(h.db, JSON.parse(fs.readFileSync('/work/main/fixtures/demo.json','utf8')));
const trx = await beginScopedTransaction(h.db, { kind: 'person', personId: 'per-1-0047' }, 'self-service');
try { console.log(await erase(trx, { subject: 'per-1-0047', role: 'data_subject' }, 'per-1-0047')); await trx.commit().execute(); }
catch (e) { console.log('ERR', (e as Error).message); await trx.rollback().execute(); }
void withScope;
