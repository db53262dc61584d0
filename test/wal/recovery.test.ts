// The damage table of DESIGN.md section 6 against real files: damage -> open
// -> expected outcome -> repair -> survivors -> append more -> reopen -> reread
// (after etcd's repair_test.go).

import { describe, expect, it } from 'vitest';
import { readFile, writeFile, truncate, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeRecordAt, encodeRecord, record_header_bytes } from '../../src/wal/codec.js';
import { nodeDisk } from '../../src/wal/disk.js';
import { WalCorruptionError, type RecoveryReport } from '../../src/wal/recovery.js';
import { listSegments, segmentName } from '../../src/wal/segments.js';
import { WalWriter } from '../../src/wal/writer.js';
import type { Effect } from '../../src/engine/types.js';
import { effectsRange, recover, useTempWalDir, writeSegments } from './helpers.js';

const ballast_bytes = 64 * 1024;

let walDir: string;
useTempWalDir((dir) => { walDir = dir; });

/** Cumulative offsets of each record when `effects` are written back to back. */
function offsetsOf(effects: Effect[]): number[] {
  const out: number[] = [];
  let p = 0;
  for (const e of effects) { out.push(p); p += encodeRecord(e).length; }
  return out;
}

function seqs(effects: Effect[]): number[] { return effects.map((e) => e.seq); }

/** Writes a log of `count` records with the real writer (mode always); returns its only segment. */
async function writeLogWithWriter(count: number): Promise<{ path: string; effects: Effect[] }> {
  const effects = effectsRange(1, count);
  const fatal: Error[] = [];
  const w = await WalWriter.open({ now: () => 0,
    disk: nodeDisk, walDir, mode: 'always', tail: null, lastSeq: 0, olderSegmentsBytes: 0,
    ballastBytes: ballast_bytes, onFatal: (e) => fatal.push(e), log: () => {},
  });
  // A few batches, not one.
  for (const [i, e] of effects.entries()) {
    w.append(e);
    if (i % 4 === 3) await new Promise((r) => setImmediate(r));
  }
  await w.close();
  expect(fatal).toEqual([]);
  const path = join(walDir, segmentName(1));
  // The writer lays records down exactly as the codec frames them.
  expect((await readFile(path)).equals(Buffer.concat(effects.map((e) => encodeRecord(e))))).toBe(true);
  return { path, effects };
}

async function olderSegmentsBytes(report: RecoveryReport): Promise<number> {
  let total = 0;
  for (const s of await listSegments(nodeDisk, walDir)) {
    if (s.path !== report.tail?.segment.path) total += (await stat(s.path)).size;
  }
  return total;
}

async function brokenFiles(): Promise<string[]> {
  return (await readdir(walDir)).filter((n) => n.endsWith('.broken')).sort();
}

/**
 * The second half of every row: open a writer where recovery left off, append
 * `more` records, recover again and check the whole log reads back clean.
 */
async function appendMoreAndReread(report: RecoveryReport, survivors: Effect[], more = 6): Promise<void> {
  const lastSeq = survivors.length ? survivors[survivors.length - 1]!.seq : 0;
  expect(report.lastSeq).toBe(lastSeq);
  const fatal: Error[] = [];
  const w = await WalWriter.open({ now: () => 0,
    disk: nodeDisk, walDir, mode: 'always', tail: report.tail, lastSeq: report.lastSeq,
    olderSegmentsBytes: await olderSegmentsBytes(report), ballastBytes: ballast_bytes,
    onFatal: (e) => fatal.push(e), log: () => {},
  });
  const added = effectsRange(lastSeq + 1, lastSeq + more);
  for (const e of added.slice(0, 3)) w.append(e);
  await new Promise((r) => setImmediate(r));
  for (const e of added.slice(3)) w.append(e);
  await w.close();
  expect(fatal).toEqual([]);

  const again = await recover(walDir);
  expect(again.report.tornTail).toBeNull();
  expect(again.report.repaired).toBeNull();
  expect(again.records).toEqual([...survivors, ...added]);
  expect(seqs(again.records)).toEqual(Array.from({ length: survivors.length + more }, (_, i) => i + 1));
  expect(again.report.lastSeq).toBe(lastSeq + more);
  expect(again.report.recordsApplied).toBe(survivors.length + more);
  // And a third read changes nothing.
  const third = await recover(walDir);
  expect(third.records).toEqual(again.records);
  expect(third.report.tail).toEqual(again.report.tail);
}

/** Deterministic "random" garbage. */
function garbage(length: number, seed: number): Buffer {
  const b = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 0xff; }
  return b;
}

describe('clean logs', () => {
  it('a clean single-segment log reads back whole, with nothing to repair', async () => {
    const { path, effects } = await writeLogWithWriter(11);
    const size = (await stat(path)).size;
    const { report, records, logs } = await recover(walDir);
    expect(records).toEqual(effects);
    expect(report).toMatchObject({ lastSeq: 11, recordsApplied: 11, segments: 1, tornTail: null, repaired: null });
    expect(report.tail).toEqual({ segment: { firstSeq: 1, name: segmentName(1), path }, sizeBytes: size });
    expect(logs.filter((l) => /torn|corrupt/i.test(l))).toEqual([]);
    expect(await brokenFiles()).toEqual([]);
    expect((await stat(path)).size).toBe(size);
    await appendMoreAndReread(report, effects);
  });

  it('a missing WAL directory content (no segments) is an empty log', async () => {
    await nodeDisk.mkdirp(walDir);
    const { report, records } = await recover(walDir);
    expect(records).toEqual([]);
    expect(report).toMatchObject({ lastSeq: 0, segments: 0, tail: null, tornTail: null, repaired: null });
    await appendMoreAndReread(report, []);
  });

  it('reads across several clean segments in order, ignoring other files', async () => {
    const all = effectsRange(1, 12);
    const paths = await writeSegments(walDir, [all.slice(0, 4), all.slice(4, 9), all.slice(9)]);
    await writeFile(join(walDir, 'reserve'), Buffer.alloc(100));
    await writeFile(join(walDir, `${segmentName(99)}.broken`), garbage(50, 1));
    await writeFile(join(walDir, 'notes.txt'), 'x');
    const { report, records } = await recover(walDir);
    expect(records).toEqual(all);
    expect(report.segments).toBe(3);
    expect(report.tail?.segment.path).toBe(paths[2]);
    expect(report.tail?.sizeBytes).toBe((await stat(paths[2]!)).size);
    await appendMoreAndReread(report, all);
  });

  it('afterSeq: records already in the snapshot are not handed over, lastSeq still counts them', async () => {
    const { effects } = await writeLogWithWriter(11);
    const { report, records } = await recover(walDir, { afterSeq: 5 });
    expect(records).toEqual(effects.slice(5));
    expect(report.recordsApplied).toBe(6);
    expect(report.lastSeq).toBe(11);
  });
});

// ---------------------------------------------------------------------------
// Damage to the newest (here: only) segment, built by the real writer.

interface Row {
  name: string;
  /** Damages the log file in place; `effects` are seqs 1..11, `off` their offsets. */
  damage: (path: string, off: number[], file: Buffer) => Promise<void>;
  /** end: zeros after a record boundary (the writer's preallocation, or a batch that never reached the disk) end the log silently. */
  outcome: 'clean' | 'end' | 'torn' | 'corrupt';
  /** Offset of the damage, from the record offsets and the undamaged file length. */
  at?: (off: number[], fileLength: number) => number;
  /** Records 1..survivors survive. */
  survivors: number;
  reason?: RegExp;
}

const count = 11;

const truncateBy = (n: number) => async (path: string) => {
  const size = (await stat(path)).size;
  await truncate(path, size - n);
};

/** Overwrites bytes of the file at `pos` (relative to a record offset). */
function overwrite(pick: (off: number[], len: number) => number, bytes: (off: number[], len: number) => Buffer) {
  return async (path: string, off: number[], file: Buffer) => {
    const b = Buffer.from(file);
    bytes(off, file.length).copy(b, pick(off, file.length));
    await writeFile(path, b);
  };
}

const rows: Row[] = [];

// Truncated by N bytes: a clean cut at a record boundary is a clean (shorter) log;
// anything else leaves a short last record = torn tail.
for (const n of [1, 7, 16]) {
  rows.push({ name: `truncated by ${n} bytes (inside the last payload)`, damage: truncateBy(n), outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1, reason: /past the end/ });
}
rows.push({
  name: 'truncated to just the last header (payload missing)',
  damage: async (path, off, file) => { await truncate(path, off[count - 1]! + record_header_bytes); void file; },
  outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1, reason: /past the end/,
});
for (const left of [16, 9, 4, 1]) {
  rows.push({
    name: `truncated inside the last header (${left} header bytes left)`,
    damage: async (path, off) => { await truncate(path, off[count - 1]! + left); },
    outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1, reason: /short header/,
  });
}
rows.push({
  name: 'truncated exactly at a record boundary (a clean, shorter log)',
  damage: async (path, off) => { await truncate(path, off[count - 1]!); },
  outcome: 'clean', survivors: count - 1,
});
rows.push({
  name: 'truncated into the record before the last',
  damage: async (path, off) => { await truncate(path, off[count - 1]! - 3); },
  outcome: 'torn', at: (o) => o[count - 2]!, survivors: count - 2,
});
rows.push({
  name: 'torn last record: payload bytes garbled',
  damage: overwrite((o) => o[count - 1]! + 25, () => garbage(20, 7)),
  outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1, reason: /checksum/,
});
rows.push({
  name: 'torn last record: checksum field garbled',
  damage: overwrite((o) => o[count - 1]! + 4, () => Buffer.from([1, 2, 3, 4])),
  outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1, reason: /checksum/,
});
rows.push({
  name: 'torn last record: the whole record is random bytes',
  damage: overwrite((o) => o[count - 1]!, (o, len) => garbage(len - o[count - 1]!, 99)),
  outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1,
});
rows.push({
  name: 'torn last record: header written, payload still zeros',
  damage: overwrite((o) => o[count - 1]! + 17, (o, len) => Buffer.alloc(len - o[count - 1]! - 17)),
  outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1, reason: /checksum/,
});
rows.push({
  name: 'the last record zeroed (its write never reached the disk; preallocated space)',
  damage: overwrite((o) => o[count - 1]!, (o, len) => Buffer.alloc(len - o[count - 1]!)),
  outcome: 'end', at: (o) => o[count - 1]!, survivors: count - 1,
});
rows.push({
  name: 'length field of the last record larger than the file',
  damage: async (path, off, file) => {
    const b = Buffer.from(file);
    b.writeUInt32LE(file.length * 4, off[count - 1]!);
    await writeFile(path, b);
  },
  outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1, reason: /past the end/,
});
for (const zeros of [4096, 5]) {
  rows.push({
    name: `all-zero tail of ${zeros} bytes appended (preallocated space)`,
    damage: async (path, off, file) => { await writeFile(path, Buffer.concat([file, Buffer.alloc(zeros)])); void off; },
    outcome: 'end', at: (_o, len) => len, survivors: count,
  });
}
rows.push({
  name: 'a partial record followed by a zero-filled tail',
  damage: async (path, off, file) => { await writeFile(path, Buffer.concat([file.subarray(0, off[count - 1]! + 30), Buffer.alloc(1000)])); },
  outcome: 'torn', at: (o) => o[count - 1]!, survivors: count - 1,
});
// Corruption: a bad record with valid records after it.
rows.push({
  name: 'garbage in the middle (record 5 payload overwritten), valid records after',
  damage: overwrite((o) => o[4]! + 20, () => garbage(12, 3)),
  outcome: 'corrupt', at: (o) => o[4]!, survivors: 4, reason: /checksum/,
});
rows.push({
  name: 'garbage inserted between records 7 and 8',
  damage: async (path, off, file) => { await writeFile(path, Buffer.concat([file.subarray(0, off[7]!), garbage(13, 5), file.subarray(off[7]!)])); },
  outcome: 'corrupt', at: (o) => o[7]!, survivors: 7,
});
rows.push({
  name: 'a single flipped bit in record 2',
  damage: async (path, off, file) => { const b = Buffer.from(file); b[off[1]! + 18]! ^= 0x04; await writeFile(path, b); },
  outcome: 'corrupt', at: (o) => o[1]!, survivors: 1, reason: /checksum/,
});
rows.push({
  name: 'the first record damaged, the rest valid',
  damage: overwrite(() => 0, () => garbage(10, 11)),
  outcome: 'corrupt', at: () => 0, survivors: 0,
});
rows.push({
  name: 'length field of a middle record larger than the file',
  damage: async (path, off, file) => { const b = Buffer.from(file); b.writeUInt32LE(file.length + 1000, off[3]!); await writeFile(path, b); },
  outcome: 'corrupt', at: (o) => o[3]!, survivors: 3, reason: /past the end/,
});
rows.push({
  name: 'length field of a middle record over the record limit',
  damage: async (path, off, file) => { const b = Buffer.from(file); b.writeUInt32LE(0xffff_fff0, off[3]!); await writeFile(path, b); },
  outcome: 'corrupt', at: (o) => o[3]!, survivors: 3, reason: /larger than any record/,
});
rows.push({
  name: 'a zeroed hole in the middle (records 6-7)',
  damage: overwrite((o) => o[5]!, (o) => Buffer.alloc(o[7]! - o[5]!)),
  outcome: 'corrupt', at: (o) => o[5]!, survivors: 5,
});
rows.push({
  name: 'a valid record with an out-of-order sequence in the middle',
  damage: async (path, off, file) => {
    const wrong = encodeRecord({ kind: 'del', seq: 99, key: 'x' });
    await writeFile(path, Buffer.concat([file.subarray(0, off[5]!), wrong, file.subarray(off[5]!)]));
  },
  outcome: 'corrupt', at: (o) => o[5]!, survivors: 5, reason: /sequence 99 where 6 was expected/,
});
rows.push({
  name: 'a record written twice (duplicate sequence)',
  damage: async (path, off, file) => {
    await writeFile(path, Buffer.concat([file.subarray(0, off[5]!), file.subarray(off[4]!, off[5]!), file.subarray(off[5]!)]));
  },
  outcome: 'corrupt', at: (o) => o[5]!, survivors: 5, reason: /sequence 5 where 6 was expected/,
});

describe('damage to the newest segment', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', async (_name, row) => {
    const { path, effects } = await writeLogWithWriter(count);
    const off = offsetsOf(effects);
    const clean = await readFile(path);
    await row.damage(path, off, clean);
    const damaged = await readFile(path);
    const survivors = effects.slice(0, row.survivors);

    if (row.outcome === 'clean') {
      const { report, records } = await recover(walDir);
      expect(report.tornTail).toBeNull();
      expect(report.repaired).toBeNull();
      expect(records).toEqual(survivors);
      expect(await brokenFiles()).toEqual([]);
      expect((await readFile(path)).equals(damaged)).toBe(true);
      await appendMoreAndReread(report, survivors);
      return;
    }

    const at = row.at!(off, clean.length);
    if (row.outcome === 'end') {
      const { report, records, logs } = await recover(walDir);
      expect(report.tornTail).toBeNull();
      expect(report.repaired).toBeNull();
      expect(records).toEqual(survivors);
      expect(report.lastSeq).toBe(row.survivors);
      expect(report.tail).toEqual({ segment: expect.objectContaining({ path }), sizeBytes: at });
      expect(logs.filter((l) => /torn|corrupt/i.test(l))).toEqual([]);
      // Nothing worth keeping: no copy; the zeros are cut off.
      expect(await brokenFiles()).toEqual([]);
      expect((await readFile(path)).equals(damaged.subarray(0, at))).toBe(true);
      await appendMoreAndReread(report, survivors);
      return;
    }
    if (row.outcome === 'torn') {
      const { report, records, logs } = await recover(walDir);
      expect(report.tornTail).toEqual({ file: path, offset: at, reason: expect.any(String) });
      if (row.reason) expect(report.tornTail!.reason).toMatch(row.reason);
      expect(report.repaired).toBeNull();
      expect(records).toEqual(survivors);
      expect(report.lastSeq).toBe(row.survivors);
      expect(report.tail).toEqual({ segment: expect.objectContaining({ path }), sizeBytes: at });
      expect(logs.some((l) => l.includes('torn tail') && l.includes(path) && l.includes(`offset ${at}`))).toBe(true);
      // The damaged original is kept; the segment is cut at the bad record.
      expect(await brokenFiles()).toEqual([`${segmentName(1)}.broken`]);
      expect((await readFile(`${path}.broken`)).equals(damaged)).toBe(true);
      expect((await readFile(path)).equals(damaged.subarray(0, at))).toBe(true);
      await appendMoreAndReread(report, survivors);
      return;
    }

    // Corruption: refuse, name file and offset, touch nothing.
    const refused = await recover(walDir).then(() => null, (e: unknown) => e);
    expect(refused).toBeInstanceOf(WalCorruptionError);
    const err = refused as WalCorruptionError;
    expect(err.file).toBe(path);
    expect(err.offset).toBe(at);
    if (row.reason) expect(err.reason).toMatch(row.reason);
    expect(err.message).toContain(path);
    expect(err.message).toContain(`offset ${at}`);
    expect(await brokenFiles()).toEqual([]);
    expect((await readFile(path)).equals(damaged)).toBe(true);
    // Refusing again gives the same answer (nothing was changed).
    await expect(recover(walDir)).rejects.toMatchObject({ file: path, offset: at });

    // --repair-wal: truncate there, keep the original.
    const { report, records, logs } = await recover(walDir, { repair: true });
    expect(report.repaired).toEqual({ file: path, offset: at, reason: err.reason });
    expect(report.tornTail).toBeNull();
    expect(records).toEqual(survivors);
    expect(report.tail).toEqual({ segment: expect.objectContaining({ path }), sizeBytes: at });
    expect(logs.some((l) => l.includes('--repair-wal') && l.includes(path))).toBe(true);
    expect(await brokenFiles()).toEqual([`${segmentName(1)}.broken`]);
    expect((await readFile(`${path}.broken`)).equals(damaged)).toBe(true);
    expect((await readFile(path)).equals(damaged.subarray(0, at))).toBe(true);
    await appendMoreAndReread(report, survivors);
  });
});

// ---------------------------------------------------------------------------
// Several segments.

describe('damage with several segments', () => {
  const all = effectsRange(1, 12);
  const groups = [all.slice(0, 5), all.slice(5, 9), all.slice(9)];

  it('a torn tail in the newest segment leaves the older ones alone', async () => {
    const paths = await writeSegments(walDir, groups);
    const olderBefore = await Promise.all(paths.slice(0, 2).map((p) => readFile(p)));
    const size = (await stat(paths[2]!)).size;
    await truncate(paths[2]!, size - 5);
    const { report, records } = await recover(walDir);
    const lastOff = offsetsOf(groups[2]!)[2]!;
    expect(report.tornTail).toMatchObject({ file: paths[2], offset: lastOff });
    expect(records).toEqual(all.slice(0, 11));
    expect(await brokenFiles()).toEqual([`${segmentName(10)}.broken`]);
    for (const [i, p] of paths.slice(0, 2).entries()) expect((await readFile(p)).equals(olderBefore[i]!)).toBe(true);
    await appendMoreAndReread(report, all.slice(0, 11));
  });

  const olderDamage: Array<[string, (path: string) => Promise<void>, (off: number[], len: number) => number]> = [
    ['truncated like a torn tail', async (p) => { await truncate(p, (await stat(p)).size - 3); }, (off) => off[4]!],
    ['a zero-filled tail', async (p) => { await writeFile(p, Buffer.concat([await readFile(p), Buffer.alloc(64)])); }, (_off, len) => len],
    ['garbage in the middle', async (p) => { const b = await readFile(p); garbage(8, 2).copy(b, offsetsOf(groups[0]!)[2]! + 19); await writeFile(p, b); }, (off) => off[2]!],
  ];

  it.each(olderDamage)('damage in an older segment (%s) is corruption even with a newer segment', async (_name, damage, at) => {
    const paths = await writeSegments(walDir, groups);
    const cleanLength = (await stat(paths[0]!)).size;
    await damage(paths[0]!);
    const damaged = await readFile(paths[0]!);
    const newer = await Promise.all(paths.slice(1).map((p) => readFile(p)));
    const offset = at(offsetsOf(groups[0]!), cleanLength);

    await expect(recover(walDir)).rejects.toSatisfy((e: unknown) =>
      e instanceof WalCorruptionError && e.file === paths[0] && e.offset === offset && e.message.includes(paths[0]!));
    expect(await brokenFiles()).toEqual([]);
    expect((await readFile(paths[0]!)).equals(damaged)).toBe(true);

    // Repair truncates the older segment and drops the later ones (kept as .broken).
    const survivorCount = offsetsOf(groups[0]!).filter((o) => o < offset).length;
    const { report, records } = await recover(walDir, { repair: true });
    expect(report.repaired).toMatchObject({ file: paths[0], offset });
    expect(records).toEqual(all.slice(0, survivorCount));
    expect(report.tail).toEqual({ segment: expect.objectContaining({ path: paths[0] }), sizeBytes: offset });
    expect(await brokenFiles()).toEqual(paths.map((p) => `${p.slice(walDir.length + 1)}.broken`));
    expect((await readFile(`${paths[0]}.broken`)).equals(damaged)).toBe(true);
    for (const [i, p] of paths.slice(1).entries()) {
      expect(await nodeDisk.exists(p)).toBe(false);
      expect((await readFile(`${p}.broken`)).equals(newer[i]!)).toBe(true);
    }
    expect((await listSegments(nodeDisk, walDir)).map((s) => s.path)).toEqual([paths[0]]);
    await appendMoreAndReread(report, all.slice(0, survivorCount));
  });

  it('an empty newest segment (crash right after a roll) is a clean end; appends go into it', async () => {
    const paths = await writeSegments(walDir, [all.slice(0, 6)]);
    const empty = join(walDir, segmentName(7));
    await writeFile(empty, Buffer.alloc(0));
    const { report, records } = await recover(walDir);
    expect(report).toMatchObject({ tornTail: null, repaired: null, lastSeq: 6, segments: 2 });
    expect(records).toEqual(all.slice(0, 6));
    expect(report.tail).toEqual({ segment: { firstSeq: 7, name: segmentName(7), path: empty }, sizeBytes: 0 });
    expect(await brokenFiles()).toEqual([]);
    const olderSize = (await stat(paths[0]!)).size;
    await appendMoreAndReread(report, all.slice(0, 6));
    // The new records went into the empty segment, not the older one.
    expect((await stat(paths[0]!)).size).toBe(olderSize);
    expect((await stat(empty)).size).toBeGreaterThan(0);
  });

  it('a single empty segment is an empty log', async () => {
    await nodeDisk.mkdirp(walDir);
    await writeFile(join(walDir, segmentName(1)), Buffer.alloc(0));
    const { report, records } = await recover(walDir);
    expect(records).toEqual([]);
    expect(report).toMatchObject({ tornTail: null, repaired: null, lastSeq: 0, tail: { sizeBytes: 0 } });
    await appendMoreAndReread(report, []);
  });

  it('a gap between segments (missing records) is corruption; repair drops the misnamed segment', async () => {
    const paths = await writeSegments(walDir, [all.slice(0, 5), all.slice(6, 9)]); // seq 6 missing
    await expect(recover(walDir)).rejects.toMatchObject({ file: paths[1], offset: 0, reason: expect.stringMatching(/starts at 7.*continues at 6/) });
    const { report, records } = await recover(walDir, { repair: true });
    expect(report.repaired).toMatchObject({ file: paths[1], offset: 0 });
    expect(records).toEqual(all.slice(0, 5));
    expect(report.lastSeq).toBe(5);
    expect(await nodeDisk.exists(`${paths[1]}.broken`)).toBe(true);
    // Appends must continue with seq 6 in a segment that says so.
    await appendMoreAndReread(report, all.slice(0, 5));
  });

  it.each([0, 4096])('a newest segment of %i zero bytes whose name does not continue the log holds nothing; it is removed', async (zeros) => {
    const paths = await writeSegments(walDir, [all.slice(0, 5)]);
    const misnamed = join(walDir, segmentName(9));
    await writeFile(misnamed, Buffer.alloc(zeros));
    const { report, records } = await recover(walDir);
    expect(report.tornTail).toBeNull();
    expect(records).toEqual(all.slice(0, 5));
    expect(await nodeDisk.exists(misnamed)).toBe(false);
    expect(await nodeDisk.exists(`${misnamed}.broken`)).toBe(false);
    expect(report.tail).toEqual({ segment: expect.objectContaining({ path: paths[0] }), sizeBytes: (await stat(paths[0]!)).size });
    await appendMoreAndReread(report, all.slice(0, 5));
  });

  it('a segment jump is accepted only when the snapshot covers the skipped records', async () => {
    const paths = await writeSegments(walDir, [all.slice(0, 5), all.slice(6, 9)]); // seq 6 missing
    await expect(recover(walDir, { afterSeq: 4 })).rejects.toBeInstanceOf(WalCorruptionError);
    const covered = await recover(walDir, { afterSeq: 6 });
    expect(covered.records).toEqual(all.slice(6, 9));
    expect(covered.report.lastSeq).toBe(9);
    expect(covered.report.tail?.segment.path).toBe(paths[1]);
  });

  it('a log that ends before the snapshot start: appends continue after afterSeq and the log stays readable', async () => {
    // The snapshot (afterSeq 20) holds records the log never got (e.g. written
    // but not yet durable when a snapshot was taken and the power went).
    await writeSegments(walDir, [all.slice(0, 8)]);
    const first = await recover(walDir, { afterSeq: 20 });
    expect(first.records).toEqual([]);
    expect(first.report.lastSeq).toBe(20);
    const w = await WalWriter.open({ now: () => 0,
      disk: nodeDisk, walDir, mode: 'always', tail: first.report.tail, lastSeq: first.report.lastSeq,
      olderSegmentsBytes: await olderSegmentsBytes(first.report), ballastBytes: ballast_bytes, onFatal: (e) => { throw e; }, log: () => {},
    });
    const added = effectsRange(21, 24);
    for (const e of added) w.append(e);
    await w.close();
    const again = await recover(walDir, { afterSeq: 20 });
    expect(again.report.tornTail).toBeNull();
    expect(again.records).toEqual(added);
    expect(again.report.lastSeq).toBe(24);
  });
});

describe('a log that starts after the state on hand', () => {
  it('refuses to start when records between the snapshot and the first segment are missing; --repair-wal starts without them', async () => {
    const [path] = await writeSegments(walDir, [effectsRange(50, 60)]);
    await expect(recover(walDir, { afterSeq: 10 })).rejects.toThrow(WalCorruptionError);
    await expect(recover(walDir, { afterSeq: 10 })).rejects.toThrow(/records 11\.\.49 are missing/);
    await expect(recover(walDir)).rejects.toThrow(/records 1\.\.49 are missing/);
    const repaired = await recover(walDir, { afterSeq: 10, repair: true });
    expect(repaired.report.repaired?.file).toBe(path);
    expect(seqs(repaired.records)).toEqual(seqs(effectsRange(50, 60)));
    // No gap: a log starting right after the snapshot, or one the snapshot covers, is fine.
    expect(seqs((await recover(walDir, { afterSeq: 49 })).records)).toEqual(seqs(effectsRange(50, 60)));
    expect((await recover(walDir, { afterSeq: 55 })).records.map((e) => e.seq)).toEqual([56, 57, 58, 59, 60]);
  });
});

// ---------------------------------------------------------------------------
// Lost sectors: a batch written into preallocated zeros reaches the disk
// sector by sector, in any order, until its fdatasync completes; a crash can
// leave a zero sector with later records of the same (unacknowledged) batch
// after it.

describe('lost sectors', () => {
  const effects = effectsRange(1, 40, 100);
  const off = offsetsOf(effects);
  const sector = 512;
  /** The record whose bytes reach into [from, ...): the last one starting before `from`. */
  const recordAt = (from: number) => off.filter((o) => o < from).length - 1;
  const zeroSector = (file: Buffer, start: number) => { const b = Buffer.from(file); b.fill(0, start, start + sector); return b; };

  it('a zero sector in the newest segment with valid records after it is a torn tail: cut at the first record it touches', async () => {
    const [path] = await writeSegments(walDir, [effects]);
    const damaged = zeroSector(await readFile(path!), 2 * sector);
    await writeFile(path!, damaged);
    const k = recordAt(2 * sector);
    // Records after the hole still check out (it is not a torn end of file).
    const after = recordAt(3 * sector) + 1;
    expect(decodeRecordAt(damaged, off[after]!).ok).toBe(true);

    const { report, records, logs } = await recover(walDir);
    expect(report.tornTail).toMatchObject({ file: path, offset: off[k] });
    expect(records).toEqual(effects.slice(0, k));
    expect(logs.some((l) => l.includes('torn tail'))).toBe(true);
    expect(await brokenFiles()).toEqual([`${segmentName(1)}.broken`]);
    expect((await readFile(path!)).equals(damaged.subarray(0, off[k]))).toBe(true);
    await appendMoreAndReread(report, effects.slice(0, k));
  });

  it('a record whose own start lies in the zeros (the rest of its first sector zero) is torn too', async () => {
    const [path] = await writeSegments(walDir, [effects]);
    const file = await readFile(path!);
    const k = recordAt(5 * sector) + 1; // the first record starting at or after 5 * sector
    const sectorEnd = (Math.floor(off[k]! / sector) + 1) * sector;
    const b = Buffer.from(file);
    b.fill(0, off[k]!, sectorEnd);
    await writeFile(path!, b);
    const { report, records } = await recover(walDir);
    expect(report.tornTail).toMatchObject({ offset: off[k] });
    expect(records).toEqual(effects.slice(0, k));
  });

  it.each([1, 3, 7, 24])('a record with only its first %i bytes in a lost sector (the rest of the batch landed) is torn', async (head) => {
    // Find value sizes that put a record start `head` bytes before a sector boundary, with records after it.
    let found: { effects: Effect[]; k: number } | null = null;
    for (let v = 1; v < 400 && !found; v++) {
      const effects = effectsRange(1, 40, v);
      const off = offsetsOf(effects);
      const k = off.findIndex((o, i) => i > 0 && i < 35 && sector - (o % sector) === head);
      if (k > 0) found = { effects, k };
    }
    const { effects, k } = found!;
    const off = offsetsOf(effects);
    const [path] = await writeSegments(walDir, [effects]);
    const b = await readFile(path!);
    b.fill(0, off[k]!, off[k]! + head); // the old content of that sector from the record on: zeros
    await writeFile(path!, b);
    const { report, records } = await recover(walDir);
    expect(report.tornTail).toMatchObject({ offset: off[k] });
    expect(records).toEqual(effects.slice(0, k));
  });

  it('the same zero sector in an older segment is corruption', async () => {
    const [older] = await writeSegments(walDir, [effects, effectsRange(41, 45)]);
    await writeFile(older!, zeroSector(await readFile(older!), 2 * sector));
    const k = recordAt(2 * sector);
    await expect(recover(walDir)).rejects.toMatchObject({ file: older, offset: off[k] });
  });

  it('zeros after the last record of an older segment are corruption (the writer cuts them before rolling)', async () => {
    const [older] = await writeSegments(walDir, [effects.slice(0, 10), effects.slice(10)]);
    const length = (await stat(older!)).size;
    await writeFile(older!, Buffer.concat([await readFile(older!), Buffer.alloc(4096)]));
    await expect(recover(walDir)).rejects.toMatchObject({ file: older, offset: length });
  });
});
