// removeCoveredSegments: which WAL segments a snapshot makes redundant, and
// moving them to an archive directory instead of deleting them.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeDisk } from '../../src/wal/disk.js';
import { decodeRecordAt, encodeRecord } from '../../src/wal/codec.js';
import { removeCoveredSegments, segmentName } from '../../src/wal/segments.js';
import type { Effect } from '../../src/engine/types.js';
import { makeTempDir } from './helpers.js';

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => { tmp = await makeTempDir(); });
afterEach(async () => { await tmp.cleanup(); });

function effect(seq: number): Effect {
  return seq % 3 === 0
    ? { kind: 'del', seq, key: `k${seq % 5}` }
    : { kind: 'put', seq, key: `k${seq % 5}\xe9`, value: Buffer.alloc(seq % 50, seq & 0xff), flags: seq, expiresAtMs: 0, cas: seq };
}

/** Writes segments starting at each of `firsts` (ascending), holding records up to `lastSeq`. */
async function writeSegments(walDir: string, firsts: number[], lastSeq: number): Promise<Map<string, Buffer>> {
  await mkdir(walDir, { recursive: true });
  const contents = new Map<string, Buffer>();
  for (let i = 0; i < firsts.length; i++) {
    const end = i + 1 < firsts.length ? firsts[i + 1]! - 1 : lastSeq;
    const parts: Buffer[] = [];
    for (let s = firsts[i]!; s <= end; s++) parts.push(encodeRecord(effect(s)));
    const buf = Buffer.concat(parts);
    await writeFile(join(walDir, segmentName(firsts[i]!)), buf);
    contents.set(segmentName(firsts[i]!), buf);
  }
  return contents;
}

async function segmentsIn(dir: string): Promise<string[]> {
  if (!(await nodeDisk.exists(dir))) return [];
  return (await readdir(dir)).filter((n) => n.endsWith('.wal')).sort();
}

/** Every record sequence in the given segment files, in file order. */
async function sequencesIn(dirs: string[]): Promise<number[]> {
  const files: Array<{ name: string; path: string }> = [];
  for (const d of dirs) for (const name of await segmentsIn(d)) files.push({ name, path: join(d, name) });
  files.sort((a, b) => a.name.localeCompare(b.name));
  const seqs: number[] = [];
  for (const f of files) {
    const buf = await readFile(f.path);
    for (let at = 0; at < buf.length;) {
      const d = decodeRecordAt(buf, at);
      if (!d.ok) throw new Error(`${f.path} at ${at}: ${d.reason}`);
      seqs.push(d.effect.seq);
      at += d.size;
    }
  }
  return seqs;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('removeCoveredSegments', () => {
  it('removes exactly the segments whose records are all at or below throughSeq', async () => {
    const contents = await writeSegments(tmp.walDir, [1, 11, 21, 31], 35);
    const size = (first: number) => contents.get(segmentName(first))!.length;
    expect(await removeCoveredSegments(nodeDisk, tmp.walDir, 0)).toBe(0);
    expect(await removeCoveredSegments(nodeDisk, tmp.walDir, 9)).toBe(0);
    expect(await segmentsIn(tmp.walDir)).toEqual([1, 11, 21, 31].map(segmentName));
    expect(await removeCoveredSegments(nodeDisk, tmp.walDir, 10)).toBe(size(1));
    expect(await segmentsIn(tmp.walDir)).toEqual([11, 21, 31].map(segmentName));
    expect(await removeCoveredSegments(nodeDisk, tmp.walDir, 29)).toBe(size(11));
    expect(await segmentsIn(tmp.walDir)).toEqual([21, 31].map(segmentName));
    expect(await sequencesIn([tmp.walDir])).toEqual(range(21, 35));
  });

  it('never removes the newest segment, however far throughSeq goes', async () => {
    await writeSegments(tmp.walDir, [1, 11, 21], 25);
    await removeCoveredSegments(nodeDisk, tmp.walDir, 1_000_000);
    expect(await segmentsIn(tmp.walDir)).toEqual([segmentName(21)]);
    expect(await removeCoveredSegments(nodeDisk, tmp.walDir, 1_000_000)).toBe(0);
    expect(await segmentsIn(tmp.walDir)).toEqual([segmentName(21)]);
    // An empty newest segment (just rolled) stays too.
    await rm(tmp.walDir, { recursive: true });
    await writeSegments(tmp.walDir, [1, 11], 10);
    await removeCoveredSegments(nodeDisk, tmp.walDir, 10);
    expect(await segmentsIn(tmp.walDir)).toEqual([segmentName(11)]);
  });

  it('leaves files that are not segments alone', async () => {
    await writeSegments(tmp.walDir, [1, 5], 8);
    await writeFile(join(tmp.walDir, 'reserve'), Buffer.alloc(100));
    await writeFile(join(tmp.walDir, `${segmentName(1)}.broken-1`), 'x');
    await removeCoveredSegments(nodeDisk, tmp.walDir, 100);
    expect((await readdir(tmp.walDir)).sort()).toEqual([segmentName(5), `${segmentName(1)}.broken-1`, 'reserve'].sort());
  });

  it('with an archive directory, copies each removed segment there (same bytes) before removing it', async () => {
    const contents = await writeSegments(tmp.walDir, [1, 11, 21, 31], 40);
    const archive = join(tmp.dir, 'archive', 'nested');
    const removed = await removeCoveredSegments(nodeDisk, tmp.walDir, 25, archive);
    expect(removed).toBe(contents.get(segmentName(1))!.length + contents.get(segmentName(11))!.length);
    expect(await segmentsIn(archive)).toEqual([segmentName(1), segmentName(11)]);
    for (const name of await segmentsIn(archive)) expect((await readFile(join(archive, name))).equals(contents.get(name)!), name).toBe(true);
    expect(await segmentsIn(tmp.walDir)).toEqual([segmentName(21), segmentName(31)]);
    // Later compactions add to the archive; nothing is lost across both places.
    await removeCoveredSegments(nodeDisk, tmp.walDir, 40, archive);
    expect(await segmentsIn(archive)).toEqual([1, 11, 21].map(segmentName));
    expect(await segmentsIn(tmp.walDir)).toEqual([segmentName(31)]);
    expect(await sequencesIn([archive, tmp.walDir])).toEqual(range(1, 40));
  });

  it('does nothing (and creates no archive) when nothing is covered', async () => {
    await writeSegments(tmp.walDir, [1, 11], 15);
    const archive = join(tmp.dir, 'archive');
    expect(await removeCoveredSegments(nodeDisk, tmp.walDir, 5, archive)).toBe(0);
    expect(await segmentsIn(tmp.walDir)).toEqual([segmentName(1), segmentName(11)]);
    expect(await nodeDisk.exists(archive)).toBe(false);
  });

  it('keeps every segment holding a record after throughSeq, for any layout (property)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 2, max: 60 }), { maxLength: 8 }),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 80 }),
        fc.boolean(),
        async (starts, extra, throughSeq, archived) => {
          const firsts = [1, ...starts.sort((a, b) => a - b)];
          const lastSeq = firsts[firsts.length - 1]! + extra;
          const dir = join(tmp.dir, `run${run++}`);
          const walDir = join(dir, 'wal');
          const archive = archived ? join(dir, 'archive') : undefined;
          await writeSegments(walDir, firsts, lastSeq);
          await removeCoveredSegments(nodeDisk, walDir, throughSeq, archive);
          const expectedKept = firsts.filter((f, i) => i === firsts.length - 1 || firsts[i + 1]! - 1 > throughSeq);
          expect(await segmentsIn(walDir)).toEqual(expectedKept.map(segmentName));
          const remaining = await sequencesIn([walDir]);
          // Everything after throughSeq is still in the log, and the log is contiguous.
          expect(remaining).toEqual(range(remaining[0] ?? 1, lastSeq));
          expect(remaining[0]! <= Math.max(throughSeq + 1, 1) || remaining[0] === firsts[firsts.length - 1]).toBe(true);
          if (archive) expect(await sequencesIn([archive, walDir])).toEqual(range(1, lastSeq));
          await rm(dir, { recursive: true, force: true });
        },
      ),
      { numRuns: 60 },
    );
  });
});
