// Data directory lock (proper-lockfile), so two servers never write one log.
// The holder's PID is written beside the lock so a refused server can say who
// holds it. A lock left by a process that no longer exists (kill -9) is taken
// over at once instead of waiting for proper-lockfile's staleness timeout.

import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import lockfile from 'proper-lockfile';

export class DataDirLockedError extends Error {}

const lock_dir_name = 'lock';
const pid_file_name = 'server.pid';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** A killed process not yet reaped still answers kill(pid, 0); on Linux /proc tells. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

async function holderPid(dataDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(dataDir, pid_file_name), 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Locks dataDir; resolves to the release function. Throws DataDirLockedError naming the holder. */
export async function lockDataDir(dataDir: string, onCompromised: (err: Error) => void): Promise<() => Promise<void>> {
  const lockfilePath = join(dataDir, lock_dir_name);
  const options = { lockfilePath, realpath: false, stale: 10_000, update: 2_000, onCompromised };
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dataDir, options);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    const pid = await holderPid(dataDir);
    if (pid !== null && pid !== process.pid && isAlive(pid)) {
      throw new DataDirLockedError(`data directory ${dataDir} is locked by another memcached-lite (pid ${pid})`);
    }
    if (pid === null) throw new DataDirLockedError(`data directory ${dataDir} is locked by another process (no pid recorded in ${pid_file_name})`);
    // The holder is gone (killed): its lock is stale.
    await rm(lockfilePath, { recursive: true, force: true });
    release = await lockfile.lock(dataDir, options);
  }
  await writeFile(join(dataDir, pid_file_name), `${process.pid}\n`);
  return async () => {
    await rm(join(dataDir, pid_file_name), { force: true });
    await release();
  };
}
