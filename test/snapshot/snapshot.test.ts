// Snapshot writing, validation and loading against real files (nodeDisk in a
// temp dir) with a fake SnapshotSource over a plain Map.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, rm, writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeDisk } from '../../src/wal/disk.js';
import {
  listSnapshots, loadNewestSnapshot, validateSnapshot, writeSnapshot, type LoadedSnapshot,
} from '../../src/snapshot/snapshot.js';
import { snapshotName, type SnapshotItem } from '../../src/snapshot/format.js';
import { deferred, fakeSource, itemsMap, makeTempDir, waitFor, type FakeSource } from './helpers.js';

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
beforeEach(async () => { tmp = await makeTempDir(); });
afterEach(async () => { await tmp.cleanup(); });

const fixedNow = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

function write(source: FakeSource, dir = tmp.snapDir, beforeCommit: (endSeq: number) => Promise<void> = async () => {}) {
  return writeSnapshot({ disk: nodeDisk, dir, source, serverVersion: 'test-1.2.3', now: () => fixedNow, beforeCommit });
}

async function itemsOf(loaded: LoadedSnapshot): Promise<Map<string, SnapshotItem>> {
  const out = new Map<string, SnapshotItem>();
  await loaded.image.forEachItem((keyBytes, keyStart, keyEnd, value, start, end, flags, expiresAtMs, cas) => {
    const key = keyBytes.toString('latin1', keyStart, keyEnd);
    expect(out.has(key), `duplicate key ${JSON.stringify(key)}`).toBe(false);
    out.set(key, { key, value: Buffer.from(value.subarray(start, end)), flags, expiresAtMs, cas });
  });
  return out;
}

function expectSameItems(actual: Map<string, SnapshotItem>, expected: Map<string, SnapshotItem>): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, want] of expected) {
    const got = actual.get(key)!;
    expect(got.value.equals(want.value), `value of ${JSON.stringify(key)}`).toBe(true);
    expect(got.flags, `flags of ${JSON.stringify(key)}`).toBe(want.flags);
    expect(got.expiresAtMs, `expiry of ${JSON.stringify(key)}`).toBe(want.expiresAtMs);
    expect(got.cas, `cas of ${JSON.stringify(key)}`).toBe(want.cas);
  }
}

async function loadOrFail(dir = tmp.snapDir, logs: string[] = []): Promise<LoadedSnapshot> {
  const loaded = await loadNewestSnapshot(nodeDisk, dir, (m) => logs.push(m));
  expect(loaded, `no snapshot loaded; log: ${logs.join(' | ')}`).not.toBeNull();
  return loaded!;
}

const latin1High = String.fromCharCode(...Array.from({ length: 128 }, (_, i) => 0x80 + i));
const controls = String.fromCharCode(...Array.from({ length: 32 }, (_, i) => i), 0x7f);

describe('writeSnapshot + loadNewestSnapshot round trip', () => {
  it('keeps keys with latin1 and control bytes, binary values, flags, expiry and cas exactly', async () => {
    const all256 = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const entries: SnapshotItem[] = [
      { key: 'plain', value: Buffer.from('hello'), flags: 0, expiresAtMs: 0, cas: 1 },
      { key: latin1High, value: all256, flags: 0xffffffff, expiresAtMs: 1_900_000_000_123, cas: Number.MAX_SAFE_INTEGER },
      { key: `ctl${controls}end`, value: Buffer.alloc(0), flags: 1, expiresAtMs: 0, cas: 2 },
      { key: 'quote"back\\slash\u00e9\u00ff', value: Buffer.from('line1\r\nline2\n\n"}'), flags: 0x80000000, expiresAtMs: 1, cas: 3 },
      { key: 'big', value: randomBytes(100 * 1024), flags: 123456, expiresAtMs: 2_000_000_000_000, cas: 2 ** 40 },
      { key: 'empty-value', value: Buffer.alloc(0), flags: 0xffffffff, expiresAtMs: 0, cas: 4 },
      { key: '\x00', value: Buffer.from([0, 0, 0]), flags: 7, expiresAtMs: 0, cas: 5 },
    ];
    const map = new Map(entries.map((e) => [e.key, e]));
    const source = fakeSource(map, { lastSeq: 4242, nextCas: 2 ** 41, pendingFlushAtMs: 1_950_000_000_000 });
    const written = await write(source);
    expect(written.startSeq).toBe(4242);
    expect(written.name).toBe(snapshotName(4242));
    expect(written.name).toBe('00000000000000004242.jsonl');
    expect(written.path).toBe(join(tmp.snapDir, written.name));
    expect(written.items).toBe(entries.length);
    expect(await readdir(tmp.snapDir)).toEqual([written.name]);

    const logs: string[] = [];
    const loaded = await loadOrFail(tmp.snapDir, logs);
    expect(logs).toEqual([]);
    expect(loaded.ref.name).toBe(written.name);
    expect(loaded.items).toBe(entries.length);
    expect(loaded.header).toMatchObject({
      format: 'memcached-lite-snapshot', version: 1, startSeq: 4242, nextCas: 2 ** 41, pendingFlushAtMs: 1_950_000_000_000,
      serverVersion: 'test-1.2.3', createdAt: new Date(fixedNow).toISOString(),
    });
    expect(loaded.image.lastSeq).toBe(4242);
    expect(loaded.image.nextCas).toBe(2 ** 41);
    expect(loaded.image.pendingFlushAtMs).toBe(1_950_000_000_000);
    expectSameItems(await itemsOf(loaded), map);
  });

  it('an empty source gives a valid snapshot with no items', async () => {
    const written = await write(fakeSource(new Map(), { lastSeq: 0, nextCas: 1 }));
    expect(written.items).toBe(0);
    const loaded = await loadOrFail();
    expect(loaded.items).toBe(0);
    expect(loaded.header.startSeq).toBe(0);
    expect((await itemsOf(loaded)).size).toBe(0);
  });

  it('round-trips arbitrary latin1 keys and binary values (property)', async () => {
    const latin1Char = fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c));
    const item = fc.record({
      key: fc.string({ unit: latin1Char, minLength: 1, maxLength: 250 }),
      value: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
      flags: fc.nat({ max: 0xffffffff }),
      expiresAtMs: fc.oneof(fc.constant(0), fc.nat({ max: Number.MAX_SAFE_INTEGER })),
      cas: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(item, { selector: (i) => i.key, maxLength: 40 }), fc.nat({ max: 1e12 }), async (items, seq) => {
        const dir = join(tmp.dir, `p${run++}`);
        const map = new Map(items.map((i) => [i.key, i]));
        await write(fakeSource(map, { lastSeq: seq, nextCas: 7 }), dir);
        const loaded = await loadOrFail(dir);
        expect(loaded.header.startSeq).toBe(seq);
        expect(loaded.items).toBe(items.length);
        expectSameItems(await itemsOf(loaded), map);
      }),
      { numRuns: 40 },
    );
  });

  it('streams the file in chunks of any size, lines longer than a chunk included (property)', async () => {
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), fc.uint8Array({ maxLength: 2000 })), { maxLength: 30 }),
      fc.constantFrom(1, 7, 64, 333, 4096),
      async (pairs, chunkBytes) => {
        const map = new Map<string, SnapshotItem>();
        pairs.forEach(([k, v], i) => map.set(k, { key: k, value: Buffer.from(v), flags: i, expiresAtMs: 0, cas: i + 1 }));
        await rm(tmp.snapDir, { recursive: true, force: true });
        await write(fakeSource(map, { lastSeq: 9 }));
        const loaded = await loadNewestSnapshot(nodeDisk, tmp.snapDir, () => {}, { chunkBytes });
        expect(loaded).not.toBeNull();
        expectSameItems(await itemsOf(loaded!), map);
      },
    ), { numRuns: 40 });
  });

  it('items deleted from the source while the write is in progress are simply absent', async () => {
    const map = itemsMap(6000);
    const source = fakeSource(map, { lastSeq: 10 });
    // Once the key list is taken, delete the second half at the first yield.
    const deleted: string[] = [];
    source.onKeys = (keys) => {
      setImmediate(() => {
        for (const k of keys.slice(3000)) { map.delete(k); deleted.push(k); }
      });
    };
    const keysBefore = new Set(map.keys());
    const written = await write(source);
    expect(deleted.length).toBe(3000);
    // Deletion landed mid-write: the early items were read before it, the late ones after.
    expect(written.items).toBe(3000);
    const loaded = await itemsOf(await loadOrFail());
    expect(loaded.size).toBe(3000);
    for (const k of deleted) expect(loaded.has(k)).toBe(false);
    for (const k of keysBefore) if (!deleted.includes(k)) expect(loaded.get(k)?.value.toString()).toBe(map.get(k)!.value.toString());
  });

  it('yields to the event loop while iterating items (a setImmediate runs mid-write)', async () => {
    const total = 10_000; // under the 1 MB write chunk: no file write inside the loop
    const source = fakeSource(itemsMap(total), { lastSeq: 1 });
    let itemsReadWhenImmediateRan = -1;
    // Scheduled when the first item is read, i.e. after every awaited file
    // operation that precedes the item loop: only a yield inside the loop lets it run early.
    source.onItem = (index) => { if (index === 0) setImmediate(() => { itemsReadWhenImmediateRan = source.itemCalls; }); };
    let earlyImmediateRan = false;
    setImmediate(() => { earlyImmediateRan = true; });
    await write(source);
    expect(earlyImmediateRan).toBe(true);
    expect(itemsReadWhenImmediateRan).toBeGreaterThan(0);
    expect(itemsReadWhenImmediateRan).toBeLessThan(total);
  });
});

describe('beforeCommit', () => {
  it('is awaited before the file becomes visible, with the newest sequence the snapshot may show', async () => {
    const source = fakeSource(itemsMap(50), { lastSeq: 100 });
    // Writes go on during the snapshot: the sequence moves past the start.
    source.onKeys = () => { source.seq = 137; };
    const gate = deferred();
    const calls: number[] = [];
    const writing = write(source, tmp.snapDir, (endSeq) => { calls.push(endSeq); return gate.promise; });
    let done = false;
    void writing.then(() => { done = true; }, () => { done = true; });
    await waitFor(() => calls.length === 1, 3000, 'beforeCommit to be called');
    expect(calls).toEqual([137]);
    // Give the writer every chance to go ahead without waiting.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 30));
    expect(done).toBe(false);
    const name = snapshotName(100);
    expect(await readdir(tmp.snapDir)).toEqual([`${name}.tmp`]);
    expect(await listSnapshots(nodeDisk, tmp.snapDir)).toEqual([]);
    expect(await loadNewestSnapshot(nodeDisk, tmp.snapDir, () => {})).toBeNull();
    gate.resolve();
    const written = await writing;
    expect(written.startSeq).toBe(100);
    expect(await readdir(tmp.snapDir)).toEqual([name]);
    const loaded = await loadOrFail();
    expect(loaded.header.startSeq).toBe(100);
    expect(loaded.items).toBe(50);
  });

  it('when it rejects, the temp file is removed and no snapshot appears (older ones untouched)', async () => {
    await write(fakeSource(itemsMap(3, 'old'), { lastSeq: 5 }));
    const before = await readFile(join(tmp.snapDir, snapshotName(5)));
    const source = fakeSource(itemsMap(5000), { lastSeq: 9 });
    await expect(write(source, tmp.snapDir, async () => { throw new Error('fsync failed'); })).rejects.toThrow('fsync failed');
    expect(await readdir(tmp.snapDir)).toEqual([snapshotName(5)]);
    expect((await readFile(join(tmp.snapDir, snapshotName(5)))).equals(before)).toBe(true);
    const loaded = await loadOrFail();
    expect(loaded.header.startSeq).toBe(5);
  });
});

describe('validateSnapshot', () => {
  async function validFile(n = 20): Promise<{ path: string; buf: Buffer }> {
    const written = await write(fakeSource(itemsMap(n), { lastSeq: 77, nextCas: 500 }));
    return { path: written.path, buf: await readFile(written.path) };
  }

  function lineStarts(buf: Buffer): number[] {
    const starts = [0];
    for (let i = 0; i < buf.length - 1; i++) if (buf[i] === 0x0a) starts.push(i + 1);
    return starts;
  }

  it('accepts an intact file', async () => {
    const { buf } = await validFile();
    const v = validateSnapshot(buf);
    expect(v.ok).toBe(true);
    if (v.ok) {
      expect(v.items).toBe(20);
      expect(v.header.startSeq).toBe(77);
      expect(v.header.nextCas).toBe(500);
    }
  });

  it('rejects a truncated file at every kind of cut point', async () => {
    const { buf } = await validFile();
    const starts = lineStarts(buf);
    const headerEnd = starts[1]!;
    const trailerStart = starts[starts.length - 1]!;
    const cuts = new Set([
      0, 1, headerEnd - 1, headerEnd, headerEnd + 5, starts[2]!, starts[5]! - 3, starts[10]!,
      trailerStart - 1, trailerStart, trailerStart + 3, buf.length - 2, buf.length - 1,
    ]);
    for (let c = 0; c < buf.length; c += 97) cuts.add(c);
    for (const cut of cuts) {
      const v = validateSnapshot(buf.subarray(0, cut));
      expect(v.ok, `cut at ${cut} of ${buf.length}`).toBe(false);
    }
  });

  it('rejects a flipped byte in an item line (checksum)', async () => {
    const { buf } = await validFile();
    const starts = lineStarts(buf);
    for (const line of [1, 7, starts.length - 2]) {
      const from = starts[line]!;
      const to = starts[line + 1]! - 1;
      for (const at of [from + 2, Math.floor((from + to) / 2), to - 2]) {
        const bad = Buffer.from(buf);
        bad[at] = bad[at] === 0x41 ? 0x42 : 0x41; // still printable, still one line
        const v = validateSnapshot(bad);
        expect(v.ok, `line ${line} byte ${at}`).toBe(false);
        if (!v.ok) expect(v.reason).toMatch(/checksum/);
      }
    }
  });

  it('rejects a file whose trailer was removed', async () => {
    const { buf } = await validFile();
    const starts = lineStarts(buf);
    const v = validateSnapshot(buf.subarray(0, starts[starts.length - 1]));
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(/trailer/);
    // Only the header left: no trailer either.
    expect(validateSnapshot(buf.subarray(0, starts[1])).ok).toBe(false);
  });

  it('rejects a trailer with the wrong item count', async () => {
    const { buf } = await validFile();
    const text = buf.toString('utf8');
    for (const n of [19, 21, 0]) {
      const bad = Buffer.from(text.replace('"items":20,', `"items":${n},`), 'utf8');
      expect(bad.equals(buf)).toBe(false);
      const v = validateSnapshot(bad);
      expect(v.ok, `items ${n}`).toBe(false);
      if (!v.ok) expect(v.reason).toMatch(/20/);
    }
  });

  it('rejects a garbage or foreign header', async () => {
    const { buf } = await validFile();
    const starts = lineStarts(buf);
    const rest = buf.subarray(starts[1]);
    const headerText = buf.toString('utf8', 0, starts[1]! - 1);
    const badHeaders = [
      'garbage',
      '{}',
      '',
      headerText.replace('"version":1', '"version":2'),
      headerText.replace('memcached-lite-snapshot', 'something-else'),
      headerText.replace('"startSeq":77', '"startSeq":-1'),
      headerText.replace('"nextCas":500', '"nextCas":"500"'),
    ];
    for (const h of badHeaders) {
      const v = validateSnapshot(Buffer.concat([Buffer.from(`${h}\n`), rest]));
      expect(v.ok, h).toBe(false);
      if (!v.ok) expect(v.reason).toMatch(/header/);
    }
    expect(validateSnapshot(Buffer.from('no newline at all')).ok).toBe(false);
  });
});

describe('loadNewestSnapshot fallback', () => {
  async function twoSnapshots() {
    const older = itemsMap(30, 'old');
    const newer = itemsMap(40, 'new');
    const a = await write(fakeSource(older, { lastSeq: 10, nextCas: 100 }));
    const b = await write(fakeSource(newer, { lastSeq: 20, nextCas: 200 }));
    return { a, b, older, newer };
  }

  it('loads the newest valid snapshot', async () => {
    const { b, newer } = await twoSnapshots();
    const logs: string[] = [];
    const loaded = await loadOrFail(tmp.snapDir, logs);
    expect(loaded.ref.name).toBe(b.name);
    expect(loaded.header.nextCas).toBe(200);
    expectSameItems(await itemsOf(loaded), newer);
    expect(logs).toEqual([]);
    // Files that do not follow the naming pattern are ignored.
    await writeFile(join(tmp.snapDir, '99999999999999999999.jsonl.tmp'), 'partial');
    await writeFile(join(tmp.snapDir, 'notes.txt'), 'x');
    expect((await loadOrFail()).ref.name).toBe(b.name);
  });

  const corruptions: Array<[string, (path: string, buf: Buffer) => Promise<void>, RegExp]> = [
    ['truncated in half', (p, buf) => truncate(p, Math.floor(buf.length / 2)), /not usable/],
    ['trailer removed', (p, buf) => truncate(p, buf.lastIndexOf(0x0a, buf.length - 2) + 1), /trailer/],
    ['flipped byte', async (p, buf) => { const c = Buffer.from(buf); const at = buf.indexOf('"v":"') + 6; c[at] = c[at] === 0x41 ? 0x42 : 0x41; await writeFile(p, c); }, /checksum/],
    ['garbage header', async (p, buf) => { await writeFile(p, Buffer.concat([Buffer.from('{"oops":\n'), buf.subarray(buf.indexOf(0x0a) + 1)])); }, /header/],
    ['empty file', (p) => writeFile(p, ''), /not usable/],
  ];

  for (const [what, corrupt, reason] of corruptions) {
    it(`falls back to the previous snapshot when the newest is damaged (${what}), logging why`, async () => {
      const { a, b, older } = await twoSnapshots();
      await corrupt(b.path, await readFile(b.path));
      const logs: string[] = [];
      const loaded = await loadOrFail(tmp.snapDir, logs);
      expect(loaded.ref.name).toBe(a.name);
      expect(loaded.header.startSeq).toBe(10);
      expect(loaded.image.lastSeq).toBe(10);
      expectSameItems(await itemsOf(loaded), older);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toContain(b.path);
      expect(logs[0]).toMatch(/not usable/);
      expect(logs[0]).toMatch(reason);
    });

    it(`restoring in one pass, a newest snapshot damaged (${what}) is rejected and the previous one restored`, async () => {
      const { a, b, older } = await twoSnapshots();
      await corrupt(b.path, await readFile(b.path));
      const logs: string[] = [];
      const restored = new Map<string, SnapshotItem>();
      const lastSeqs: number[] = [];
      const loaded = await loadNewestSnapshot(nodeDisk, tmp.snapDir, (m) => logs.push(m), {
        chunkBytes: 97,
        restore: async (image) => {
          restored.clear(); // as Engine.restore: each image replaces the whole state
          lastSeqs.push(image.lastSeq);
          await image.forEachItem((kb, ks, ke, value, start, end, flags, expiresAtMs, cas) => {
            const key = kb.toString('latin1', ks, ke);
            restored.set(key, { key, value: Buffer.from(value.subarray(start, end)), flags, expiresAtMs, cas });
          });
        },
      });
      expect(loaded?.ref.name).toBe(a.name);
      expect(lastSeqs[lastSeqs.length - 1]).toBe(10);
      expectSameItems(restored, older);
      expect(logs).toHaveLength(1);
      expect(logs[0]).toContain(b.path);
      expect(logs[0]).toMatch(reason);
    });
  }

  it('restoring in one pass with no valid snapshot leaves an empty image restored and returns null', async () => {
    const { a, b } = await twoSnapshots();
    const flip = async (path: string) => { const c = await readFile(path); const at = c.indexOf('"v":"') + 6; c[at] = c[at] === 0x41 ? 0x42 : 0x41; await writeFile(path, c); };
    await flip(a.path);
    await flip(b.path);
    let items = -1;
    const logs: string[] = [];
    const loaded = await loadNewestSnapshot(nodeDisk, tmp.snapDir, (m) => logs.push(m), {
      restore: async (image) => { items = 0; await image.forEachItem(() => { items++; }); },
    });
    expect(loaded).toBeNull();
    expect(items).toBe(0);
    expect(logs).toHaveLength(2);
  });

  it('returns null when no snapshot is valid, logging each one', async () => {
    const { a, b } = await twoSnapshots();
    await truncate(a.path, 10);
    await truncate(b.path, (await readFile(b.path)).length - 1);
    const logs: string[] = [];
    expect(await loadNewestSnapshot(nodeDisk, tmp.snapDir, (m) => logs.push(m))).toBeNull();
    expect(logs).toHaveLength(2);
    expect(logs[0]).toContain(b.path);
    expect(logs[1]).toContain(a.path);
  });

  it('returns null for a missing or empty directory', async () => {
    expect(await loadNewestSnapshot(nodeDisk, join(tmp.dir, 'nope'), () => {})).toBeNull();
    await mkdir(tmp.snapDir);
    expect(await loadNewestSnapshot(nodeDisk, tmp.snapDir, () => {})).toBeNull();
  });

  it('skips a file whose name and header disagree on the start sequence', async () => {
    const { a, b } = await twoSnapshots();
    // A valid file under a newer name that is not its own.
    await copyFile(a.path, join(tmp.snapDir, snapshotName(30)));
    const logs: string[] = [];
    const loaded = await loadOrFail(tmp.snapDir, logs);
    expect(loaded.ref.name).toBe(b.name);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/header says 10/);
  });
});
