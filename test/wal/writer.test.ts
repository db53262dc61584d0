import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cp, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRecordAt, encodeRecord } from '../../src/wal/codec.js';
import { nodeDisk, type Disk } from '../../src/wal/disk.js';
import { listSegments, segmentName } from '../../src/wal/segments.js';
import { ballast_file_name, prealloc_step_bytes, WalWriter, type FsyncMode, type WalWriterOptions } from '../../src/wal/writer.js';
import type { Effect } from '../../src/engine/types.js';
import { effectsRange, errnoError, FullableDisk, gate, HookedDisk, makeTempDir, recover, waitFor } from './helpers.js';

const ballast_bytes = 64 * 1024;

let walDir: string;
let cleanup: () => Promise<void>;
const openWriters: WalWriter[] = [];
beforeEach(async () => {
  const t = await makeTempDir();
  walDir = t.walDir;
  cleanup = t.cleanup;
});
afterEach(async () => {
  for (const w of openWriters.splice(0)) await w.close();
  await cleanup();
});

interface Opened { w: WalWriter; fatal: Error[]; logs: string[]; acks: number[] }

async function open(disk: Disk, mode: FsyncMode, extra: Partial<WalWriterOptions> = {}): Promise<Opened> {
  const fatal: Error[] = [];
  const logs: string[] = [];
  const acks: number[] = [];
  const w = await WalWriter.open({ now: () => 0,
    disk, walDir, mode, tail: null, lastSeq: 0, olderSegmentsBytes: 0, ballastBytes: ballast_bytes,
    onFatal: (e) => fatal.push(e), log: (m) => logs.push(m), ...extra,
  });
  openWriters.push(w);
  w.onAck(() => acks.push(w.ackedSeq));
  return { w, fatal, logs, acks };
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function walEvents(disk: HookedDisk): string[] {
  return disk.events.filter((e) => e.includes('.wal'));
}

/** WAL events without preallocation's zero writes (prealloc_step_bytes long; no batch here is that size). */
function batchEvents(disk: HookedDisk): string[] {
  return walEvents(disk).filter((e) => !e.endsWith(` ${prealloc_step_bytes}`));
}
const batchWrites = (disk: HookedDisk) => batchEvents(disk).filter((e) => e.startsWith('write'));

async function segmentBytes(first = 1): Promise<Buffer> {
  return readFile(join(walDir, segmentName(first)));
}

describe('group commit', () => {
  it('appends in one event-loop turn form one batch: one write, one fdatasync, one ack', async () => {
    const disk = new HookedDisk();
    const { w, acks, fatal } = await open(disk, 'always');
    expect(w.stats().walFsyncs).toBe(0);
    disk.events.length = 0;
    const effects = effectsRange(1, 50);
    for (const e of effects) w.append(e);
    expect(w.lastAppendedSeq).toBe(50);
    expect(w.ackedSeq).toBe(0);
    expect(w.stats().walRecords).toBe(50);

    await waitFor(() => w.ackedSeq === 50, 3000, 'ack of the batch');
    const name = segmentName(1);
    const bytes = Buffer.concat(effects.map((e) => encodeRecord(e)));
    // The first batch also lays down the preallocated zeros; one fdatasync covers both.
    expect(walEvents(disk)).toEqual([`write ${name} ${prealloc_step_bytes}`, `write ${name} ${bytes.length}`, `datasync ${name}`]);
    expect(w.stats().walFsyncs).toBe(1);
    expect(w.stats().durableSeq).toBe(50);
    expect(acks).toEqual([50]);
    const file = await segmentBytes();
    expect(file.length).toBe(prealloc_step_bytes);
    expect(file.subarray(0, bytes.length).equals(bytes)).toBe(true);
    expect(file.subarray(bytes.length).every((b) => b === 0)).toBe(true);
    expect(w.stats().walBytes).toBe(bytes.length);
    expect(fatal).toEqual([]);
  });

  it('separate turns while idle are separate batches', async () => {
    const disk = new HookedDisk();
    const { w } = await open(disk, 'always');
    for (let s = 1; s <= 3; s++) {
      w.append(effectsRange(s, s)[0]!);
      await waitFor(() => w.ackedSeq === s);
    }
    expect(w.stats().walFsyncs).toBe(3);
    expect(batchWrites(disk)).toHaveLength(3);
  });

  it('always: ackedSeq moves only after write + fdatasync; the next batch fills while one is in flight', async () => {
    const disk = new HookedDisk();
    const { w, acks } = await open(disk, 'always');
    const hold = gate();
    let syncsStarted = 0;
    disk.beforeSync = async () => { syncsStarted++; if (syncsStarted === 1) await hold.promise; };
    for (const e of effectsRange(1, 3)) w.append(e);
    await waitFor(() => syncsStarted === 1, 3000, 'first fdatasync to start');
    // Written but not yet synced: not acknowledged.
    expect(batchWrites(disk)).toHaveLength(1);
    expect(w.ackedSeq).toBe(0);
    expect(w.stats().durableSeq).toBe(0);
    expect(acks).toEqual([]);

    for (const e of effectsRange(4, 7)) w.append(e);
    await tick();
    await sleep(20);
    // Nothing else starts while the first batch is in flight.
    expect(batchWrites(disk)).toHaveLength(1);
    expect(w.ackedSeq).toBe(0);

    hold.open();
    await waitFor(() => w.ackedSeq === 7, 3000, 'second batch');
    expect(acks).toEqual([3, 7]);
    expect(w.stats().walFsyncs).toBe(2);
    expect(disk.maxInFlight).toBe(1);
    const name = segmentName(1);
    expect(batchEvents(disk).map((e) => e.split(' ')[0])).toEqual(['write', 'datasync', 'write', 'datasync']);
    expect(batchEvents(disk)[0]).toBe(`write ${name} ${Buffer.concat(effectsRange(1, 3).map((e) => encodeRecord(e))).length}`);
  });

  it('no: ackedSeq moves after the write, without fdatasync; close() syncs', async () => {
    const disk = new HookedDisk();
    const { w, acks } = await open(disk, 'no');
    const hold = gate();
    let writesStarted = 0;
    disk.beforeWrite = async (path) => { if (path.endsWith('.wal')) { writesStarted++; await hold.promise; } };
    for (const e of effectsRange(1, 5)) w.append(e);
    await waitFor(() => writesStarted === 1);
    expect(w.ackedSeq).toBe(0);
    hold.open();
    await waitFor(() => w.ackedSeq === 5);
    expect(acks).toEqual([5]);
    expect(w.stats().walFsyncs).toBe(0);
    expect(walEvents(disk).some((e) => e.startsWith('datasync'))).toBe(false);
    await w.close();
    expect(w.stats().walFsyncs).toBe(1);
    expect(walEvents(disk).at(-1)).toBe(`datasync ${segmentName(1)}`);
  });

  it('everysec: ackedSeq moves after the write; an fdatasync follows within about a second', async () => {
    const disk = new HookedDisk();
    const { w } = await open(disk, 'everysec');
    for (const e of effectsRange(1, 4)) w.append(e);
    await waitFor(() => w.ackedSeq === 4);
    expect(w.stats().walFsyncs).toBe(0);
    await waitFor(() => w.stats().walFsyncs === 1, 2500, 'the once-a-second fdatasync');
    expect(walEvents(disk).at(-1)).toBe(`datasync ${segmentName(1)}`);
  });

  it('close() writes and syncs everything appended, waiting for the batch in flight', async () => {
    const disk = new HookedDisk();
    const { w, fatal } = await open(disk, 'always');
    const hold = gate();
    let syncs = 0;
    disk.beforeSync = async () => { syncs++; if (syncs === 1) await hold.promise; };
    const effects = effectsRange(1, 30);
    for (const e of effects.slice(0, 10)) w.append(e);
    await waitFor(() => syncs === 1);
    for (const e of effects.slice(10)) w.append(e);
    let closed = false;
    const closing = w.close().then(() => { closed = true; });
    await sleep(30);
    expect(closed).toBe(false);
    expect(() => w.append(effectsRange(31, 31)[0]!)).toThrow(/closed/);
    hold.open();
    await closing;
    expect(w.ackedSeq).toBe(30);
    expect(fatal).toEqual([]);
    expect(walEvents(disk).at(-1)).toMatch(/^datasync /);
    const { records, report } = await recover(walDir);
    expect(records).toEqual(effects);
    expect(report.tornTail).toBeNull();
  });

  it('admission says wait while un-durable bytes pass half the ballast, and whenAdmissible resolves after the write', async () => {
    const disk = new HookedDisk();
    const { w } = await open(disk, 'always');
    expect(w.admission()).toBe('ok');
    await w.whenAdmissible(); // resolves at once
    const big: Effect = { kind: 'put', seq: 1, key: 'big', value: Buffer.alloc(ballast_bytes / 2), flags: 0, expiresAtMs: 0, cas: 1 };
    const hold = gate();
    let syncs = 0;
    disk.beforeSync = async () => { syncs++; await hold.promise; };
    w.append(big);
    expect(w.admission()).toBe('wait');
    let admitted = false;
    const waiting = w.whenAdmissible().then(() => { admitted = true; });
    await waitFor(() => syncs === 1);
    // Written, not yet durable: still in flight, still 'wait'.
    expect(w.admission()).toBe('wait');
    expect(admitted).toBe(false);
    hold.open();
    await waiting;
    expect(w.admission()).toBe('ok');
    expect(w.ackedSeq).toBe(1);
  });

  it('writes the ballast file at open and continues an existing tail', async () => {
    const first = await open(nodeDisk, 'always');
    for (const e of effectsRange(1, 5)) first.w.append(e);
    await first.w.close();
    expect((await stat(join(walDir, ballast_file_name))).size).toBe(ballast_bytes);
    const { report } = await recover(walDir);
    const second = await open(nodeDisk, 'always', { tail: report.tail, lastSeq: report.lastSeq });
    expect(second.w.ackedSeq).toBe(5);
    expect(second.w.stats().walBytes).toBe(report.tail!.sizeBytes);
    for (const e of effectsRange(6, 9)) second.w.append(e);
    await second.w.close();
    expect((await segmentBytes()).equals(Buffer.concat(effectsRange(1, 9).map((e) => encodeRecord(e))))).toBe(true);
  });
});

describe('segment rolling', () => {
  it('rolls at segmentSizeMaxBytes, names segments by first seq, syncs the old one before the new exists; recovery reads across', async () => {
    const disk = new HookedDisk();
    const max = 600;
    const { w, fatal } = await open(disk, 'no', { segmentSizeMaxBytes: max });
    const effects = effectsRange(1, 60);
    for (let i = 0; i < effects.length; i += 3) {
      for (const e of effects.slice(i, i + 3)) w.append(e);
      await waitFor(() => w.ackedSeq === Math.min(i + 3, effects.length));
    }
    await w.close();
    expect(fatal).toEqual([]);

    const segments = await listSegments(nodeDisk, walDir);
    expect(segments.length).toBeGreaterThanOrEqual(4);
    let total = 0;
    let next = 1;
    for (const [i, s] of segments.entries()) {
      expect(s.firstSeq).toBe(next);
      const buf = await readFile(s.path);
      total += buf.length;
      const recs = recordsIn(buf);
      expect(recs[0]?.seq).toBe(s.firstSeq);
      next = recs.at(-1)!.seq + 1;
      if (i < segments.length - 1) {
        // Rolled once it passed the limit: at most one batch (3 records) over it.
        expect(buf.length).toBeGreaterThanOrEqual(max);
        expect(buf.length).toBeLessThan(max + 3 * 100);
      }
      if (i > 0) {
        // The previous segment was fsynced before anything was written to this one.
        const prev = segments[i - 1]!.name;
        const firstWrite = disk.events.findIndex((e) => e.startsWith(`write ${s.name}`));
        const lastPrev = disk.events.slice(0, firstWrite).filter((e) => e.includes(prev)).at(-1);
        expect(lastPrev).toBe(`datasync ${prev}`);
      }
    }
    expect(next).toBe(61);
    expect(w.stats().walBytes).toBe(total);

    const { records, report } = await recover(walDir);
    expect(records).toEqual(effects);
    expect(report.segments).toBe(segments.length);
    expect(report.tail?.segment.path).toBe(segments.at(-1)!.path);

    // Continue after a restart: still rolling, still readable.
    const older = total - report.tail!.sizeBytes;
    const again = await open(nodeDisk, 'always', { tail: report.tail, lastSeq: report.lastSeq, olderSegmentsBytes: older, segmentSizeMaxBytes: max });
    expect(again.w.stats().walBytes).toBe(total);
    const more = effectsRange(61, 90);
    for (let i = 0; i < more.length; i += 5) {
      for (const e of more.slice(i, i + 5)) again.w.append(e);
      await waitFor(() => again.w.ackedSeq === 60 + Math.min(i + 5, more.length));
    }
    await again.w.close();
    const reread = await recover(walDir);
    expect(reread.records).toEqual([...effects, ...more]);
    expect(reread.report.segments).toBeGreaterThan(segments.length);
  });

  it('defaults to the 64 MiB segment size: small logs stay in one segment', async () => {
    const { w } = await open(nodeDisk, 'always');
    for (let i = 0; i < 5; i++) {
      for (const e of effectsRange(i * 20 + 1, i * 20 + 20, 500)) w.append(e);
      await waitFor(() => w.ackedSeq === i * 20 + 20);
    }
    await w.close();
    expect((await listSegments(nodeDisk, walDir)).map((s) => s.name)).toEqual([segmentName(1)]);
  });
});

describe('preallocation', () => {
  const fileLength = async () => (await stat(join(walDir, segmentName(1)))).size;

  it('runs the segment ahead of its records in zeros, one step at a time, and close() cuts them off', async () => {
    const disk = new HookedDisk();
    const { w, fatal } = await open(disk, 'always');
    const effects = effectsRange(1, 24, 100_000);
    let bytes = 0;
    for (let i = 0; i < effects.length; i += 3) {
      for (const e of effects.slice(i, i + 3)) { w.append(e); bytes += encodeRecord(e).length; }
      await waitFor(() => w.ackedSeq === i + 3);
      // Always more than the records, by at most one step.
      const length = await fileLength();
      expect(length).toBe((Math.floor(bytes / prealloc_step_bytes) + 1) * prealloc_step_bytes);
      expect(w.stats().walBytes).toBe(bytes);
    }
    // One zero write per step crossed (2.4 MB of records: steps 1, 2 and 3), each in the batch that crossed it.
    const zeroWrites = walEvents(disk).filter((e) => e === `write ${segmentName(1)} ${prealloc_step_bytes}`);
    expect(zeroWrites).toHaveLength(Math.floor(bytes / prealloc_step_bytes) + 1);
    expect(w.stats().walFsyncs).toBe(8);
    await w.close();
    expect(fatal).toEqual([]);
    expect(await fileLength()).toBe(bytes);
    expect(recordsIn(await segmentBytes())).toEqual(effects);
  });

  it('after a kill the zeros are the end of the log: recovery cuts them silently and appends continue there', async () => {
    const { w } = await open(nodeDisk, 'always');
    const effects = effectsRange(1, 40);
    for (const e of effects) w.append(e);
    await waitFor(() => w.ackedSeq === 40);
    // What a kill -9 now leaves on disk (the writer never closes this copy).
    const crashed = join(walDir, '..', 'crashed');
    await cp(walDir, crashed, { recursive: true });
    const image = await readFile(join(crashed, segmentName(1)));
    const recordBytes = w.stats().walBytes;
    expect(image.length).toBe(prealloc_step_bytes);
    expect(image.subarray(recordBytes).every((b) => b === 0)).toBe(true);

    const { report, records, logs } = await recover(crashed);
    expect(records).toEqual(effects);
    expect(report).toMatchObject({ tornTail: null, repaired: null, lastSeq: 40 });
    expect(report.tail?.sizeBytes).toBe(recordBytes);
    expect(logs.filter((l) => /torn|corrupt/i.test(l))).toEqual([]);
    expect((await readdir(crashed)).filter((n) => n.endsWith('.broken'))).toEqual([]);
    expect((await stat(join(crashed, segmentName(1)))).size).toBe(recordBytes);

    const again = await open(nodeDisk, 'always', { walDir: crashed, tail: report.tail, lastSeq: 40 });
    const more = effectsRange(41, 50);
    for (const e of more) again.w.append(e);
    await waitFor(() => again.w.ackedSeq === 50);
    await again.w.close();
    expect((await recover(crashed)).records).toEqual([...effects, ...more]);
  });
});

function recordsIn(buf: Buffer): Effect[] {
  const out: Effect[] = [];
  for (let p = 0; p < buf.length;) {
    const d = decodeRecordAt(buf, p);
    if (!d.ok) throw new Error(`bad record at ${p}: ${d.reason}`);
    out.push(d.effect);
    p += d.size;
  }
  return out;
}

describe('disk full', () => {
  it('releases the ballast, completes the pending batch, refuses writes, and recovers when space returns', async () => {
    const ballastPath = () => join(walDir, ballast_file_name);
    // Room for the ballast plus ~3 KiB of log.
    const disk = new FullableDisk(ballast_bytes + 3000);
    const { w, fatal, logs } = await open(disk, 'always');
    expect((await stat(ballastPath())).size).toBe(ballast_bytes);
    expect(w.acceptingWrites).toBe(true);

    // Fill the log to just under the limit, one batch at a time.
    let seq = 0;
    const written: Effect[] = [];
    const appendBatch = (n: number, valueBytes = 200) => {
      for (const e of effectsRange(seq + 1, seq + n, valueBytes)) { w.append(e); written.push(e); }
      seq += n;
    };
    appendBatch(5); // ~5 * 250 bytes
    await waitFor(() => w.ackedSeq === seq);
    // Preallocation ran into the full disk (it takes what is left and pauses); that is no reason to refuse writes.
    expect(w.acceptingWrites).toBe(true);
    expect(await nodeDisk.exists(ballastPath())).toBe(true);
    const enospcBefore = disk.enospcCount;

    // This batch does not fit next to the ballast: the write runs short, then ENOSPC.
    appendBatch(30);
    await waitFor(() => w.ackedSeq === seq, 3000, 'the batch that hit ENOSPC to complete');
    expect(disk.enospcCount).toBeGreaterThan(enospcBefore);
    expect(fatal).toEqual([]);
    expect(await nodeDisk.exists(ballastPath())).toBe(false);
    expect(w.acceptingWrites).toBe(false);
    expect(w.admission()).toBe('full');
    await w.whenAdmissible(); // does not hang while full
    expect(logs.some((l) => /disk full/.test(l))).toBe(true);

    // Everything acknowledged is on disk and readable.
    expect((await recover(walDir)).records).toEqual(written);

    // Still no room for the ballast: the retry (every second) keeps failing.
    await sleep(1300);
    expect(w.acceptingWrites).toBe(false);
    expect(w.admission()).toBe('full');
    expect(await nodeDisk.exists(ballastPath())).toBe(false);

    // Space returns: the next retry rewrites the ballast and writes are accepted again.
    disk.capacityBytes += 1024 * 1024;
    await waitFor(() => w.acceptingWrites, 2500, 'accepting writes again');
    expect(w.admission()).toBe('ok');
    expect((await stat(ballastPath())).size).toBe(ballast_bytes);
    expect(logs.some((l) => /space available again/.test(l))).toBe(true);

    appendBatch(4);
    await waitFor(() => w.ackedSeq === seq);
    await w.close();
    expect(fatal).toEqual([]);
    const { records, report } = await recover(walDir);
    expect(records).toEqual(written);
    expect(report.tornTail).toBeNull();
  }, 10_000);

  it('a full disk at start-up: the writer opens refusing writes, and accepts them once space returns', async () => {
    const disk = new FullableDisk(1000);
    const { w, fatal } = await open(disk, 'always');
    expect(w.acceptingWrites).toBe(false);
    expect(w.admission()).toBe('full');
    disk.capacityBytes = 10 * ballast_bytes;
    await waitFor(() => w.acceptingWrites, 2500, 'accepting writes');
    w.append(effectsRange(1, 1)[0]!);
    await waitFor(() => w.ackedSeq === 1);
    expect(fatal).toEqual([]);
  }, 10_000);
});

describe('disk full: ballastRetryIntervalMs', () => {
  it('retries the ballast at the given interval instead of every second (the crash simulation uses 2 ms)', async () => {
    const disk = new FullableDisk(1000);
    const { w, fatal } = await open(disk, 'always', { ballastRetryIntervalMs: 20 });
    expect(w.acceptingWrites).toBe(false);
    disk.capacityBytes = 10 * ballast_bytes;
    const started = Date.now();
    await waitFor(() => w.acceptingWrites, 2500, 'accepting writes');
    expect(Date.now() - started).toBeLessThan(500); // the default would take about 1000 ms
    expect(fatal).toEqual([]);
  }, 10_000);
});

describe('I/O errors are fatal', () => {
  it('a failed fdatasync (EIO) calls onFatal and acknowledges nothing', async () => {
    const disk = new HookedDisk();
    const { w, fatal, acks } = await open(disk, 'always');
    const eio = errnoError('EIO', 'i/o error (simulated)');
    disk.beforeSync = (path) => { if (path.endsWith('.wal')) throw eio; };
    for (const e of effectsRange(1, 3)) w.append(e);
    await waitFor(() => fatal.length > 0, 3000, 'onFatal');
    expect(fatal).toEqual([eio]);
    expect(w.ackedSeq).toBe(0);
    expect(acks).toEqual([]);
    // Later appends are not written and never acknowledged.
    w.append(effectsRange(4, 4)[0]!);
    await sleep(20);
    expect(w.ackedSeq).toBe(0);
    expect(batchWrites(disk)).toHaveLength(1);
    // close() still returns (the process is about to stop).
    await w.close();
  });

  it('a failed write (EIO) calls onFatal', async () => {
    const disk = new HookedDisk();
    const { w, fatal } = await open(disk, 'no');
    const eio = errnoError('EIO', 'i/o error (simulated)');
    disk.beforeWrite = (path) => { if (path.endsWith('.wal')) throw eio; };
    w.append(effectsRange(1, 1)[0]!);
    await waitFor(() => fatal.length > 0, 3000, 'onFatal');
    expect(fatal).toEqual([eio]);
    expect(w.ackedSeq).toBe(0);
    await w.close();
  });

  it('an fdatasync failure in everysec mode calls onFatal', async () => {
    const disk = new HookedDisk();
    const { w, fatal } = await open(disk, 'everysec');
    disk.beforeSync = (path) => { if (path.endsWith('.wal')) throw errnoError('EIO', 'sync failed'); };
    w.append(effectsRange(1, 1)[0]!);
    await waitFor(() => w.ackedSeq === 1);
    await waitFor(() => fatal.length > 0, 2500, 'onFatal from the once-a-second sync');
    expect(fatal[0]?.message).toMatch(/sync failed/);
    await w.close();
  });
});
