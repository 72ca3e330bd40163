import fs from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { ConfigurationError } from '../errors.js';

/**
 * PGlite keeps its files under DATA_DIR and is single-process: two processes opening the same
 * folder would corrupt it. A pid lock file turns that into a clear error instead.
 */
export async function openEmbeddedPostgres(dataDir: string | undefined): Promise<PGlite> {
  if (dataDir === undefined) return PGlite.create();
  const pgDir = path.join(dataDir, 'pglite');
  fs.mkdirSync(pgDir, { recursive: true });
  const lockFile = path.join(dataDir, 'pglite.lock');
  takeLock(lockFile);
  try {
    const pglite = await PGlite.create(pgDir);
    const close = pglite.close.bind(pglite);
    pglite.close = async () => {
      try {
        await close();
      } finally {
        releaseLock(lockFile);
      }
    };
    return pglite;
  } catch (error) {
    releaseLock(lockFile);
    throw error;
  }
}

function takeLock(lockFile: string): void {
  try {
    fs.writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number(fs.readFileSync(lockFile, 'utf8'));
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new ConfigurationError(
      `The embedded database in ${path.dirname(lockFile)} is in use by process ${holder}. ` +
        'Stop it first (PGlite allows one process at a time), or set DATABASE_URL to use a PostgreSQL server.',
    );
  }
  fs.writeFileSync(lockFile, String(process.pid));
}

function releaseLock(lockFile: string): void {
  try {
    if (fs.readFileSync(lockFile, 'utf8') === String(process.pid)) fs.unlinkSync(lockFile);
  } catch {
    // Already gone: nothing to release.
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
