// Compactor against real files with a fake LogControl that records what the
// compaction asked of the WAL, and in which order.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { nodeDisk, type Disk } from '../../src/wal/disk.js';
import { Compactor, snapshots_kept, type LogControl } from '../../src/snapshot/compactor.js';
import { loadNewestSnapshot, readSnapshotBytes, validateSnapshot } from '../../src/snapshot/snapshot.js';
import { snapshotName } from '../../src/snapshot/format.js';
import { deferred, fakeSource, itemsMap, makeTempDir, type FakeSource } from './helpers.js';

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => { tmp = await makeTempDir(); });
afterEach(async () => { await tmp.cleanup(); });

interface FakeLog extends LogControl {
  events: string[];
  syncCalls: number[];
  removeCalls: number[];
  syncGate?: Promise<void>;
  syncError?: Error;
  removeError?: Error;
}

function fakeLog(events: string[]): FakeLog {
  const log: FakeLog = {
    events,
    syncCalls: [],
    removeCalls: [],
    requestRoll() { events.push('roll'); },
    async syncThrough(seq) {
      events.push(`sync ${seq}`);
      log.syncCalls.push(seq);
      if (log.syncGate) await log.syncGate;
      if (log.syncError) throw log.syncError;
    },
    async removeThrough(seq) {
      events.push(`remove ${seq}`);
      log.removeCalls.push(seq);
      if (log.removeError) throw log.removeError;
      return 1000 + seq;
    },
  };
  return log;
}

function setup(opts: { source?: FakeSource; disk?: Disk } = {}) {
  const events: string[] = [];
  const source = opts.source ?? fakeSource(itemsMap(100), { lastSeq: 100, nextCas: 1000 });
  const sourceLastSeq = source.lastSeq;
  source.lastSeq = () => { events.push('lastSeq'); return sourceLastSeq(); };
  source.onKeys = () => events.push('keys');
  const log = fakeLog(events);
  const reports: string[] = [];
  let clock = 1_000_000;
  const make = () => new Compactor({
    disk: opts.disk ?? nodeDisk, snapshotDir: tmp.snapDir, source, log, serverVersion: 't', now: () => (clock += 5), report: (m) => reports.push(m),
  });
  /** A new compactor over the same files, as after a server restart. */
  return { compactor: make(), restart: make, source, log, events, reports };
}

/** Snapshot files, plain (<seq>.jsonl) and compressed fallbacks (<seq>.jsonl.gz). */
async function jsonlFiles(): Promise<string[]> {
  return (await readdir(tmp.snapDir)).filter((n) => n.endsWith('.jsonl') || n.endsWith('.jsonl.gz')).sort();
}

/** The name of a fallback snapshot, kept gzipped. */
const gz = (seq: number) => `${snapshotName(seq)}.gz`;

async function isValidSnapshotFile(name: string): Promise<boolean> {
  return validateSnapshot(await readSnapshotBytes(nodeDisk, join(tmp.snapDir, name))).ok;
}

describe('Compactor', () => {
  it('requests a WAL roll before writing, syncs through the last sequence the snapshot may show, then removes the covered log', async () => {
    const { compactor, source, log, events, reports } = setup();
    // Writes go on while the snapshot is written.
    const onKeys = source.onKeys!;
    source.onKeys = (k) => { onKeys(k); source.seq = 163; };
    const result = await compactor.run();
    expect(result).not.toBeNull();
    expect(result!.snapshot.startSeq).toBe(100);
    expect(result!.items).toBe(100);
    expect(result!.removedWalBytes).toBe(1100);
    expect(result!.removedSnapshots).toBe(0);
    expect(compactor.lastResult).toBe(result);
    // The roll comes first, before the start sequence is even read.
    expect(events[0]).toBe('roll');
    expect(events.indexOf('keys')).toBeGreaterThan(events.indexOf('lastSeq'));
    const syncAt = events.findIndex((e) => e.startsWith('sync'));
    expect(syncAt).toBeGreaterThan(events.indexOf('keys'));
    expect(log.syncCalls).toHaveLength(1);
    expect(log.syncCalls[0]).toBeGreaterThanOrEqual(163);
    // Only one snapshot exists: the log is kept from its start on.
    expect(log.removeCalls).toEqual([100]);
    expect(events[events.length - 1]).toBe('remove 100');
    expect(await jsonlFiles()).toEqual([snapshotName(100)]);
    expect(reports.join('\n')).toMatch(new RegExp(`snapshot ${snapshotName(100)}: 100 items`));
  });

  it('the roll is requested before the snapshot file is created, and syncThrough runs while only the temp file exists', async () => {
    const events: string[] = [];
    const seen: Record<string, string[]> = {};
    const source = fakeSource(itemsMap(10), { lastSeq: 7 });
    const compactor = new Compactor({
      disk: nodeDisk, snapshotDir: tmp.snapDir, source, serverVersion: 't', now: () => 0, report: () => {},
      log: {
        requestRoll: () => { events.push('roll'); seen.roll = existsSync(tmp.snapDir) ? [] : ['<no dir>']; },
        syncThrough: async () => { events.push('sync'); seen.sync = await readdir(tmp.snapDir); },
        removeThrough: async () => { events.push('remove'); seen.remove = await readdir(tmp.snapDir); return 0; },
      },
    });
    expect(await compactor.run()).not.toBeNull();
    expect(events).toEqual(['roll', 'sync', 'remove']);
    expect(seen.roll).toEqual(['<no dir>']);
    expect(seen.sync).toEqual([`${snapshotName(7)}.tmp`]);
    expect(seen.remove).toEqual([snapshotName(7)]);
  });

  it(`keeps only the newest ${snapshots_kept} snapshots and removes the log through the older kept one`, async () => {
    const { compactor, source, log } = setup();
    const removed: number[] = [];
    for (const [i, seq] of [100, 200, 300, 400, 500].entries()) {
      source.seq = seq;
      source.map.set(`round${i}`, { key: `round${i}`, value: Buffer.from(`r${i}`), flags: 0, expiresAtMs: 0, cas: 5000 + i });
      const r = await compactor.run();
      expect(r, `run ${i}`).not.toBeNull();
      removed.push(r!.removedSnapshots);
      const files = await jsonlFiles();
      const seqs = [100, 200, 300, 400, 500].slice(Math.max(0, i - 1), i + 1);
      const expected = seqs.map((seq, k) => (k === seqs.length - 1 ? snapshotName(seq) : gz(seq)));
      expect(files, `after run ${i}`).toEqual(expected);
      // Both kept snapshots are valid (the fallback once gunzipped).
      for (const f of files) expect(await isValidSnapshotFile(f), f).toBe(true);
    }
    expect(removed).toEqual([0, 0, 1, 1, 1]);
    expect(log.removeCalls).toEqual([100, 100, 200, 300, 400]);
    const loaded = await loadNewestSnapshot(nodeDisk, tmp.snapDir, () => {});
    expect(loaded?.header.startSeq).toBe(500);
    expect(loaded?.items).toBe(105);
  });

  it('a snapshot at the same start sequence as the newest replaces it', async () => {
    const { compactor, source, log } = setup();
    source.seq = 100;
    await compactor.run();
    source.seq = 200;
    await compactor.run();
    source.map.set('extra', { key: 'extra', value: Buffer.from('x'), flags: 0, expiresAtMs: 0, cas: 9 });
    const r = await compactor.run();
    expect(r?.snapshot.startSeq).toBe(200);
    expect(await jsonlFiles()).toEqual([gz(100), snapshotName(200)]);
    expect(log.removeCalls).toEqual([100, 100, 100]);
    expect((await loadNewestSnapshot(nodeDisk, tmp.snapDir, () => {}))?.items).toBe(101);
  });

  it('cleans a stale *.tmp left by a crash mid-snapshot, and leaves other files alone', async () => {
    await mkdir(tmp.snapDir, { recursive: true });
    await writeFile(join(tmp.snapDir, `${snapshotName(50)}.tmp`), '{"format":"memcached-lite-snapshot"');
    await writeFile(join(tmp.snapDir, `${snapshotName(9999)}.tmp`), 'partial');
    await writeFile(join(tmp.snapDir, 'README'), 'keep me');
    const { compactor } = setup();
    expect(await compactor.run()).not.toBeNull();
    expect((await readdir(tmp.snapDir)).sort()).toEqual([snapshotName(100), 'README']);
  });

  it('concurrent run() calls share one compaction', async () => {
    const { compactor, log, events } = setup();
    const gate = deferred();
    log.syncGate = gate.promise;
    const first = compactor.run();
    expect(compactor.busy).toBe(true);
    const second = compactor.run();
    await new Promise((r) => setTimeout(r, 20));
    const third = compactor.run();
    expect(compactor.busy).toBe(true);
    gate.resolve();
    const [a, b, c] = await Promise.all([first, second, third]);
    expect(a).not.toBeNull();
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(events.filter((e) => e === 'roll')).toHaveLength(1);
    expect(log.syncCalls).toHaveLength(1);
    expect(log.removeCalls).toHaveLength(1);
    expect(compactor.busy).toBe(false);
    // Once it has finished, the next run() is a new compaction.
    log.syncGate = undefined;
    const d = await compactor.run();
    expect(d).not.toBe(a);
    expect(events.filter((e) => e === 'roll')).toHaveLength(2);
  });

  it('a failed WAL sync leaves the files as they were, reports, and the next trigger retries', async () => {
    const { compactor, source, log, reports } = setup();
    await compactor.run();
    source.seq = 200;
    await compactor.run();
    const before = await jsonlFiles();
    source.seq = 300;
    log.syncError = new Error('EIO: fsync failed');
    expect(await compactor.run()).toBeNull();
    expect(compactor.busy).toBe(false);
    expect(await readdir(tmp.snapDir)).toEqual(before); // no .tmp, no new snapshot, none removed
    expect(log.removeCalls).toEqual([100, 100]);
    expect(reports[reports.length - 1]).toMatch(/snapshot failed.*EIO: fsync failed/);
    log.syncError = undefined;
    expect(await compactor.run()).not.toBeNull();
    expect(await jsonlFiles()).toEqual([gz(200), snapshotName(300)]);
    expect(log.removeCalls).toEqual([100, 100, 200]);
  });

  it('a failed log removal is reported, and the snapshot stays', async () => {
    const { compactor, log, reports } = setup();
    log.removeError = new Error('EACCES');
    expect(await compactor.run()).toBeNull();
    expect(reports[reports.length - 1]).toMatch(/snapshot failed.*EACCES/);
    expect(await jsonlFiles()).toEqual([snapshotName(100)]);
  });

  it('a snapshot that does not read back valid is not kept, and nothing is pruned or removed', async () => {
    let corruptReads = true;
    // The read-back of snapshot 300 sees its last 5 bytes missing (whole-file and ranged reads alike).
    const disk: Disk = {
      ...nodeDisk,
      async readFile(path) {
        const buf = await nodeDisk.readFile(path);
        if (corruptReads && path.endsWith(snapshotName(300))) return buf.subarray(0, buf.length - 5);
        return buf;
      },
      openReader: undefined,
    };
    const { compactor, source, log, reports } = setup({ disk });
    await compactor.run();
    source.seq = 200;
    await compactor.run();
    source.seq = 300;
    expect(await compactor.run()).toBeNull();
    expect(reports[reports.length - 1]).toMatch(/does not validate/);
    expect(log.removeCalls).toEqual([100, 100]);
    // The previous two are still there: recovery can still fall back.
    expect(await jsonlFiles()).toContain(gz(100));
    expect(await jsonlFiles()).toContain(snapshotName(200));
    corruptReads = false;
    source.seq = 400;
    expect(await compactor.run()).not.toBeNull();
    // The older kept snapshot (the fallback) is one that is loadable.
    const files = await jsonlFiles();
    expect(files).toHaveLength(2);
    expect(files[1]).toBe(snapshotName(400));
    for (const f of files) expect(await isValidSnapshotFile(f), f).toBe(true);
    expect(log.removeCalls[log.removeCalls.length - 1]).toBe(Number(files[0]!.slice(0, 20)));
  });

  it('keeps the fallback gzipped: it gunzips to exactly the bytes the snapshot had', async () => {
    const { compactor, source } = setup();
    await compactor.run();
    const plain = await readFile(join(tmp.snapDir, snapshotName(100)));
    source.seq = 200;
    expect(await compactor.run()).not.toBeNull();
    expect(await jsonlFiles()).toEqual([gz(100), snapshotName(200)]);
    expect(gunzipSync(await readFile(join(tmp.snapDir, gz(100)))).equals(plain)).toBe(true);
  });

  it('a failure while compressing the fallback leaves it plain and reports, and the next compaction compresses it', async () => {
    let failGzWrites = true;
    const disk: Disk = {
      ...nodeDisk,
      async open(path, create) {
        const file = await nodeDisk.open(path, create);
        if (!failGzWrites || !path.endsWith('.gz.tmp')) return file;
        return {
          write: async () => { throw new Error('EIO: write failed'); },
          datasync: () => file.datasync(), truncate: (n: number) => file.truncate(n), close: () => file.close(),
        };
      },
    };
    const { compactor, source, reports } = setup({ disk });
    await compactor.run();
    source.seq = 200;
    expect(await compactor.run()).not.toBeNull();
    expect(reports.join('\n')).toMatch(/could not compress the fallback snapshot .*EIO: write failed/);
    expect((await readdir(tmp.snapDir)).sort()).toEqual([snapshotName(100), snapshotName(200)]);
    expect(await isValidSnapshotFile(snapshotName(100))).toBe(true);
    failGzWrites = false;
    source.seq = 300;
    expect(await compactor.run()).not.toBeNull();
    expect(await jsonlFiles()).toEqual([gz(200), snapshotName(300)]);
  });

  it('a damaged snapshot left on disk is not kept as the fallback (the older valid one is)', async () => {
    const { compactor, restart, source, log } = setup();
    await compactor.run(); // 100
    source.seq = 200;
    await compactor.run(); // 200
    // The newest is damaged while the server is down; recovery fell back to 100.
    const damaged = join(tmp.snapDir, snapshotName(200));
    const buf = await readFile(damaged);
    await writeFile(damaged, buf.subarray(0, buf.length - 3));
    expect((await loadNewestSnapshot(nodeDisk, tmp.snapDir, () => {}))?.header.startSeq).toBe(100);
    source.seq = 300;
    expect(await restart().run()).not.toBeNull();
    const files = await jsonlFiles();
    expect(files).toEqual([gz(100), snapshotName(300)]);
    for (const f of files) expect(await isValidSnapshotFile(f), f).toBe(true);
    // The log after the valid fallback is kept.
    expect(log.removeCalls[log.removeCalls.length - 1]).toBe(100);
    // If the newest became unreadable too, recovery still has a snapshot plus its log.
    await writeFile(join(tmp.snapDir, snapshotName(300)), 'garbage');
    const loaded = await loadNewestSnapshot(nodeDisk, tmp.snapDir, () => {});
    expect(loaded?.header.startSeq).toBe(100);
  });
});
