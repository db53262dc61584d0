// Snapshots end to end against the real server process: restart from a
// snapshot, kill -9 while snapshots are taken, the final snapshot of a clean
// shutdown, fallback to the older snapshot, and retention of snapshots and
// WAL segments (deleted or archived).

import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, MemcachedError, type Value } from '../../src/client/client.js';
import { decodeRecordAt } from '../../src/wal/codec.js';
import { cleanup, startServer, tempDataDir, type ServerProcess } from './harness.js';
import { prng } from '../prng.js';

afterAll(cleanup);

const snapshotEverySecond = ['--snapshot-interval', '1', '--snapshot-min-wal', '0'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function snapshotFiles(dataDir: string): string[] {
  const dir = join(dataDir, 'snapshots');
  if (!existsSync(dir)) return [];
  // Plain snapshots and gzipped fallbacks (<seq>.jsonl.gz).
  return readdirSync(dir).filter((n) => /^\d{20}\.jsonl(\.gz)?$/.test(n)).sort();
}

function segmentFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((n) => /^\d{20}\.wal$/.test(n)).sort();
}

const seqOf = (name: string) => Number(name.slice(0, 20));

/** Every record sequence in the given segment files (ordered by name); a running server's newest segment ends in preallocated zeros. */
function walSequences(files: string[]): number[] {
  const seqs: number[] = [];
  for (const path of [...files].sort((a, b) => seqOf(a.slice(-24)) - seqOf(b.slice(-24)))) {
    const buf = readFileSync(path);
    for (let at = 0; at < buf.length;) {
      const d = decodeRecordAt(buf, at);
      if (!d.ok && buf.subarray(at).every((b) => b === 0)) break;
      if (!d.ok) throw new Error(`${path} at ${at}: ${d.reason}`);
      seqs.push(d.effect.seq);
      at += d.size;
    }
  }
  return seqs;
}

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** Completed compactions the server reported ("snapshot <name>: N items in ..."). */
function snapshotReports(server: ServerProcess): string[] {
  return [...server.stderr().matchAll(/snapshot (\d{20}\.jsonl): \d+ items in/g)].map((m) => m[1]!);
}

/** Forces a snapshot (SIGUSR2) and waits until it has finished, pruning included. */
async function forceSnapshot(server: ServerProcess): Promise<string> {
  const before = snapshotReports(server).length;
  process.kill(server.pid, 'SIGUSR2');
  await waitFor(() => snapshotReports(server).length > before, 10_000, 'the requested snapshot');
  return snapshotReports(server)[before]!;
}

/**
 * Runs `fn` while three more connections keep setting keys `<prefix>:<conn>:<n>`
 * (recorded in `expected` once acknowledged), so that writes land while a
 * snapshot is being taken: the WAL then rolls in the middle of a compaction.
 * Resolves to fn's result and how many writes were acknowledged.
 */
async function whileWriting<T>(port: number, prefix: string, expected: Map<string, string | null>, fn: () => Promise<T>): Promise<{ result: T; writes: number }> {
  const clients = await Promise.all([0, 1, 2].map(() => Client.connect({ port })));
  let stop = false;
  let writes = 0;
  const loops = clients.map(async (c, j) => {
    for (let i = 0; !stop; i++) {
      const k = `${prefix}:${j}:${i % 40}`;
      const v = `${prefix}-${i}`;
      const reply = await c.set(k, v);
      if (reply !== 'STORED') throw new Error(`set ${k}: ${reply}`);
      expected.set(k, v);
      writes++;
    }
  });
  // Some writes before, during and after fn.
  await waitFor(() => writes >= 10, 5000, 'background writes');
  let result: T;
  try {
    result = await fn();
    const at = writes;
    await waitFor(() => writes >= at + 10, 5000, 'background writes');
  } finally {
    stop = true;
    await Promise.all(loops);
    for (const c of clients) c.close();
  }
  return { result, writes };
}

function recoveredLine(server: ServerProcess): string {
  const m = /recovered .*WAL records.*/.exec(server.stderr());
  if (!m) throw new Error(`no recovery line in:\n${server.stderr()}`);
  return m[0];
}

async function getAll(c: Client, keys: string[], withCas = false): Promise<Map<string, Value>> {
  const out = new Map<string, Value>();
  for (let i = 0; i < keys.length; i += 200) {
    const batch = keys.slice(i, i + 200);
    for (const [k, v] of withCas ? await c.getsMulti(batch) : await c.getMulti(batch)) out.set(k, v);
  }
  return out;
}


describe('snapshots end to end', () => {
  it('restarts from a snapshot plus the WAL after it: values, flags and CAS unchanged, new CAS values larger', async () => {
    const dataDir = tempDataDir();
    const server = await startServer({ dataDir, args: snapshotEverySecond });
    const c = await Client.connect({ port: server.port });
    const keys = Array.from({ length: 300 }, (_, i) => `a:${i}`);
    await Promise.all(keys.map((k, i) => c.set(k, `first-${i}-${'z'.repeat(i % 70)}`, { flags: (i * 2654435761) % 2 ** 32 })));
    await waitFor(() => snapshotFiles(dataDir).length > 0, 5000, 'a snapshot file');
    // More writes after the snapshot: new keys, overwrites, deletes, appends, incr.
    const more = Array.from({ length: 100 }, (_, i) => `b:${i}`);
    await Promise.all(more.map((k, i) => c.set(k, `second-${i}`, { flags: 0xffffffff - i })));
    for (let i = 0; i < 30; i++) expect(await c.set(`a:${i}`, `over-${i}`, { flags: 5 })).toBe('STORED');
    for (let i = 30; i < 40; i++) expect(await c.delete(`a:${i}`)).toBe('DELETED');
    for (let i = 40; i < 50; i++) expect(await c.append(`a:${i}`, '+tail')).toBe('STORED');
    expect(await c.set('n', '41')).toBe('STORED');
    expect(await c.incr('n', 1)).toBe(42n);
    const all = [...keys, ...more, 'n'];
    const before = await getAll(c, all, true);
    expect(before.size).toBe(all.length - 10);
    const maxCas = [...before.values()].reduce((m, v) => (v.cas! > m ? v.cas! : m), 0n);
    await server.kill9();
    c.close();

    const again = await startServer({ dataDir });
    const line = recoveredLine(again);
    expect(line).toMatch(new RegExp(`recovered ${before.size} items from snapshot \\d{20}\\.jsonl \\(\\d+ items\\) and \\d+ WAL records`));
    const r = await Client.connect({ port: again.port });
    const after = await getAll(r, all, true);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [k, v] of before) {
      const got = after.get(k)!;
      expect(got.value.toString(), k).toBe(v.value.toString());
      expect(got.flags, k).toBe(v.flags);
      expect(got.cas, k).toBe(v.cas);
    }
    expect(after.get('a:45')!.value.toString()).toBe('first-45-' + 'z'.repeat(45) + '+tail');
    expect(after.get('n')!.value.toString()).toBe('42');
    await r.set('fresh', 'x');
    expect((await r.gets('fresh'))!.cas!).toBeGreaterThan(maxCas);
    expect(await r.incr('n', 1)).toBe(43n);
    expect((await r.gets('n'))!.cas!).toBeGreaterThan(maxCas);
    r.close();
    expect(await again.stop()).toBe(0);
  });

  it('kill -9 at random moments while snapshots are taken loses no acknowledged write', async () => {
    const seed = Number(process.env.SNAPSHOT_TORTURE_SEED ?? Date.now() % 1_000_000_000);
    const rand = prng(seed);
    const ctx = `seed ${seed}`;
    const dataDir = tempDataDir();
    const connections = 4;
    const keysPerConnection = 40;
    const bulk = 20_000; // enough items that a snapshot takes a while and kills land inside one
    const bulkValue = (i: number) => `bulk-${i}-${'b'.repeat(80)}`;
    const ownedKeys = Array.from({ length: connections * keysPerConnection }, (_, i) => `o:${i % connections}:${Math.floor(i / connections)}`);
    /** Exact state of each owned key (null: absent) as of the last acknowledgement. */
    const model = new Map<string, string | null>(ownedKeys.map((k) => [k, null]));
    let counterFloor = 0n; // the shared counter is at least this
    let snapshotsSeen = 0;
    let restoredFromSnapshot = 0;
    let acks = 0;
    let killedMidSnapshot = 0;
    const snapDir = join(dataDir, 'snapshots');

    const verify = async (server: ServerProcess, inflight: Array<{ key: string; before: string | null; after: string | null } | null>, counterInflight: number) => {
      const c = await Client.connect({ port: server.port });
      const owned = await getAll(c, ownedKeys);
      for (const key of ownedKeys) {
        const actual = owned.get(key)?.value.toString() ?? null;
        const pending = inflight.find((f) => f?.key === key);
        if (pending) {
          expect([pending.before, pending.after], `${ctx}: ${key} was in flight`).toContain(actual);
          model.set(key, actual);
        } else {
          expect(actual, `${ctx}: ${key}`).toBe(model.get(key));
        }
      }
      const bulkKeys = Array.from({ length: bulk }, (_, i) => `bulk:${i}`);
      const bulkValues = await getAll(c, bulkKeys);
      expect(bulkValues.size, ctx).toBe(bulk);
      for (let i = 0; i < bulk; i += 997) expect(bulkValues.get(`bulk:${i}`)?.value.toString(), ctx).toBe(bulkValue(i));
      const counter = BigInt((await c.get('counter'))!.value.toString());
      expect(counter >= counterFloor, `${ctx}: counter ${counter} >= ${counterFloor}`).toBe(true);
      expect(counter <= counterFloor + BigInt(counterInflight), `${ctx}: counter ${counter} <= ${counterFloor} + ${counterInflight}`).toBe(true);
      counterFloor = counter;
      // No key that was never written: the item count is exactly what the model holds.
      expect(await c.getMulti([`o:0:${keysPerConnection}`, 'never', `bulk:${bulk}`]), ctx).toEqual(new Map());
      const present = [...model.values()].filter((v) => v !== null).length;
      expect(Number((await c.stats()).get('curr_items')), ctx).toBe(present + bulk + 1);
      c.close();
    };

    let inflight: Array<{ key: string; before: string | null; after: string | null } | null> = [];
    let counterInflight = 0;
    const rounds = 4;
    for (let round = 0; round <= rounds; round++) {
      // The last start has no snapshot timer: its clean shutdown must take the final snapshot itself.
      const server = await startServer({ dataDir, args: round === rounds ? [] : snapshotEverySecond });
      if (round > 0) {
        if (/from snapshot/.test(recoveredLine(server))) restoredFromSnapshot++;
        // Start-up removes the temp file a crash mid-snapshot leaves.
        expect(readdirSync(snapDir).filter((n) => n.endsWith('.tmp')), ctx).toEqual([]);
        await verify(server, inflight, counterInflight);
      }
      if (round === rounds) {
        // One more write, so the clean shutdown takes a final snapshot (which also clears a crashed one's .tmp).
        const last = await Client.connect({ port: server.port });
        expect(await last.set('final', 'x')).toBe('STORED');
        last.close();
        expect(await server.stop(), ctx).toBe(0);
        expect(server.stderr(), ctx).toMatch(/SIGTERM[^]*snapshot \d{20}\.jsonl: \d+ items in/);
        break;
      }
      if (round === 0) {
        const loader = await Client.connect({ port: server.port });
        for (let i = 0; i < bulk; i += 2000) {
          const replies = await Promise.all(Array.from({ length: 2000 }, (_, j) => loader.set(`bulk:${i + j}`, bulkValue(i + j))));
          expect(replies.every((r) => r === 'STORED')).toBe(true);
        }
        expect(await loader.set('counter', '0')).toBe('STORED');
        loader.close();
      }
      const clients = await Promise.all(Array.from({ length: connections }, () => Client.connect({ port: server.port })));
      inflight = clients.map(() => null);
      counterInflight = 0;
      let stop = false;
      let killing = false;
      const failures: string[] = [];
      /** An error is expected only once the server is being killed; anything else is a failure. */
      const failed = (what: string, err: unknown) => { if (err instanceof MemcachedError || !killing) failures.push(`${what}: ${(err as Error).message}`); };
      const writers = clients.map(async (client, c) => {
        for (let op = 0; !stop; op++) {
          if (rand(10) === 0) {
            counterInflight++;
            let v: bigint | 'NOT_FOUND' | undefined;
            try { v = await client.incr('counter', 1); } catch (err) {
              failed('incr counter', err);
              return;
            }
            counterInflight--;
            if (typeof v !== 'bigint') { failures.push(`counter incr gave ${v}`); return; }
            if (v > counterFloor) counterFloor = v;
            acks++;
            continue;
          }
          const key = `o:${c}:${rand(keysPerConnection)}`;
          const before = model.get(key)!;
          const numeric = before !== null && /^\d{1,15}$/.test(before);
          let kind = ['set', 'set', 'delete', 'incr', 'append'][rand(5)]!;
          if (kind === 'incr' && before !== null && !numeric) kind = 'set';
          let after: string | null;
          let send: () => Promise<unknown>;
          let expected: unknown;
          switch (kind) {
            case 'set': {
              const value = rand(3) === 0 ? String(rand(100_000)) : `${c}.${round}.${op}.${'x'.repeat(rand(300))}`;
              after = value; expected = 'STORED'; send = () => client.set(key, value);
              break;
            }
            case 'delete':
              after = null; expected = before === null ? 'NOT_FOUND' : 'DELETED'; send = () => client.delete(key);
              break;
            case 'incr':
              after = before === null ? null : String(BigInt(before) + 3n);
              expected = after === null ? 'NOT_FOUND' : BigInt(after); send = () => client.incr(key, 3);
              break;
            default: {
              const suffix = `+${round}.${op}`;
              after = before === null ? null : before + suffix;
              expected = before === null ? 'NOT_STORED' : 'STORED'; send = () => client.append(key, suffix);
            }
          }
          inflight[c] = { key, before, after };
          let reply: unknown;
          try { reply = await send(); } catch (err) {
            failed(`${kind} ${key}`, err);
            return; // the server died under us: this write's outcome is unknown
          }
          if (reply !== expected) failures.push(`${kind} ${key} (was ${before}): got ${String(reply)}, expected ${String(expected)}`);
          model.set(key, after);
          inflight[c] = null;
          acks++;
        }
      });
      const signals = (async () => {
        await sleep(50);
        while (!stop) {
          await sleep(80 + rand(300));
          try { if (!stop) process.kill(server.pid, 'SIGUSR2'); } catch { /* already killed */ }
        }
      })();
      const acksAtStart = acks;
      await sleep(900 + rand(1100));
      if (round % 2 === 1) {
        // Kill in the middle of writing a snapshot (its temp file exists).
        process.kill(server.pid, 'SIGUSR2');
        await waitFor(() => readdirSync(snapDir).some((n) => n.endsWith('.tmp')), 5000, 'a snapshot in progress');
        if (round > 1) await sleep(rand(30));
      }
      killing = true;
      await server.kill9();
      if (readdirSync(snapDir).some((n) => n.endsWith('.tmp'))) killedMidSnapshot++;
      stop = true;
      await Promise.all([...writers, signals]);
      for (const c of clients) c.close();
      expect(failures, ctx).toEqual([]);
      expect(acks - acksAtStart, `${ctx}: writes acknowledged in round ${round}`).toBeGreaterThan(50);
      snapshotsSeen += snapshotReports(server).length;
    }
    // Snapshots were really taken, and restarts really started from them.
    expect(snapshotsSeen, ctx).toBeGreaterThan(rounds);
    expect(restoredFromSnapshot, ctx).toBeGreaterThanOrEqual(rounds - 1);
    expect(killedMidSnapshot, ctx).toBeGreaterThanOrEqual(1);
    // Retention held throughout, and the final snapshot cleared any crashed one's temp file.
    expect(snapshotFiles(dataDir).length, ctx).toBe(2);
    expect(readdirSync(snapDir).filter((n) => n.endsWith('.tmp')), ctx).toEqual([]);
  }, 60_000);

  it('a clean shutdown (SIGTERM) writes a final snapshot: the restart replays no WAL record', async () => {
    const dataDir = tempDataDir();
    const server = await startServer({ dataDir }); // the timer (60 s) never fires here
    const c = await Client.connect({ port: server.port });
    const keys = Array.from({ length: 500 }, (_, i) => `s:${i}`);
    await Promise.all(keys.map((k, i) => c.set(k, `v${i}`, { flags: i })));
    c.close();
    expect(snapshotFiles(dataDir)).toEqual([]);
    expect(await server.stop()).toBe(0);
    expect(server.stderr()).toMatch(/snapshot \d{20}\.jsonl: 500 items in/);
    const files = snapshotFiles(dataDir);
    expect(files).toHaveLength(1);
    expect(seqOf(files[0]!)).toBe(500);

    const again = await startServer({ dataDir });
    expect(recoveredLine(again)).toMatch(new RegExp(`recovered 500 items from snapshot ${files[0]!.replace('.', '\\.')} \\(500 items\\) and 0 WAL records`));
    const r = await Client.connect({ port: again.port });
    const got = await getAll(r, keys);
    expect(got.size).toBe(500);
    for (let i = 0; i < 500; i++) {
      expect(got.get(`s:${i}`)?.value.toString()).toBe(`v${i}`);
      expect(got.get(`s:${i}`)?.flags).toBe(i);
    }
    // Once more after a change: again a final snapshot and nothing to replay.
    expect(await r.delete('s:0')).toBe('DELETED');
    await r.set('t', 'new');
    r.close();
    expect(await again.stop()).toBe(0);
    const third = await startServer({ dataDir });
    expect(recoveredLine(third)).toMatch(/recovered 500 items from snapshot \d{20}\.jsonl \(500 items\) and 0 WAL records/);
    const r3 = await Client.connect({ port: third.port });
    expect(await r3.get('s:0')).toBeUndefined();
    expect((await r3.get('t'))?.value.toString()).toBe('new');
    r3.close();
    expect(await third.stop()).toBe(0);
  });

  const corruptions: Array<[string, (path: string) => void, RegExp]> = [
    ['trailer removed', (p) => { const b = readFileSync(p); truncateSync(p, b.lastIndexOf(0x0a, b.length - 2) + 1); }, /trailer/],
    ['truncated in the middle', (p) => truncateSync(p, Math.floor(readFileSync(p).length / 2)), /trailer|ends mid-line/],
    ['an item byte flipped', (p) => { const b = readFileSync(p); const at = b.indexOf('"v":"', b.indexOf(0x0a)) + 5; b[at] = b[at] === 0x41 ? 0x42 : 0x41; writeFileSync(p, b); }, /checksum/],
  ];

  for (const [what, corrupt, reason] of corruptions) {
    it(`falls back to the older snapshot and its WAL when the newest is damaged (${what})`, async () => {
      const dataDir = tempDataDir();
      const server = await startServer({ dataDir });
      const c = await Client.connect({ port: server.port });
      const expected = new Map<string, string | null>();
      let records = 0;
      const set = async (k: string, v: string) => { expect(await c.set(k, v)).toBe('STORED'); expected.set(k, v); records++; };
      for (let i = 0; i < 200; i++) await set(`p1:${i}`, `one-${i}`);
      const older = await forceSnapshot(server);
      expect(seqOf(older)).toBe(200);
      // Between the two snapshots: only the WAL after the older one has these.
      for (let i = 0; i < 100; i++) await set(`p2:${i}`, `two-${i}`);
      for (let i = 0; i < 50; i++) await set(`p1:${i}`, `one-again-${i}`);
      for (let i = 50; i < 60; i++) { expect(await c.delete(`p1:${i}`)).toBe('DELETED'); expected.set(`p1:${i}`, null); records++; }
      // Writes go on while the newer snapshot is taken (the log rolls mid-compaction).
      const { result: newer, writes } = await whileWriting(server.port, 'bg', expected, () => forceSnapshot(server));
      records += writes;
      expect(seqOf(newer)).toBeGreaterThan(seqOf(older));
      for (let i = 0; i < 100; i++) await set(`p3:${i}`, `three-${i}`);
      await server.kill9();
      c.close();
      // The fallback is kept gzipped.
      expect(snapshotFiles(dataDir)).toEqual([`${older}.gz`, newer]);

      corrupt(join(dataDir, 'snapshots', newer));
      const again = await startServer({ dataDir });
      const log = again.stderr();
      expect(log).toContain(`${join(dataDir, 'snapshots', newer)} is not usable`);
      expect(log).toMatch(reason);
      expect(recoveredLine(again)).toMatch(new RegExp(`from snapshot ${older.replace('.', '\\.')}\\.gz \\(200 items\\) and ${records - 200} WAL records`));
      const r = await Client.connect({ port: again.port });
      const got = await getAll(r, [...expected.keys()]);
      for (const [k, v] of expected) expect(got.get(k)?.value.toString() ?? null, k).toBe(v);
      expect(Number((await r.stats()).get('curr_items'))).toBe([...expected.values()].filter((v) => v !== null).length);
      r.close();
      expect(await again.stop()).toBe(0);
    });
  }

  for (const archived of [false, true]) {
    it(`keeps at most 2 snapshots and no WAL segment the older one covers${archived ? ', moving covered segments to --wal-archive' : ''}`, async () => {
      const dataDir = tempDataDir();
      const archiveDir = join(tempDataDir(), 'archive');
      const server = await startServer({ dataDir, args: archived ? ['--wal-archive', archiveDir] : [] });
      const c = await Client.connect({ port: server.port });
      const expected = new Map<string, string | null>();
      const walDir = join(dataDir, 'wal');
      let lastSeq = 0;
      const taken: string[] = [];
      for (let round = 0; round < 7; round++) {
        for (let i = 0; i < 60; i++) {
          const k = `r:${(round * 37 + i) % 150}`;
          const v = `${round}-${i}`;
          expect(await c.set(k, v)).toBe('STORED');
          expected.set(k, v);
          lastSeq++;
        }
        const atStart = lastSeq;
        // Every other snapshot is taken while writes go on.
        if (round % 2 === 1) {
          const { result, writes } = await whileWriting(server.port, `bg${round}`, expected, () => forceSnapshot(server));
          taken.push(result);
          lastSeq += writes;
          expect(seqOf(result)).toBeGreaterThanOrEqual(atStart);
          expect(seqOf(result)).toBeLessThanOrEqual(lastSeq);
        } else {
          taken.push(await forceSnapshot(server));
          expect(seqOf(taken[round]!)).toBe(lastSeq);
        }
        const snaps = snapshotFiles(dataDir);
        expect(snaps.length, `round ${round}`).toBe(Math.min(round + 1, 2));
        expect(snaps[snaps.length - 1]).toBe(taken[round]);
        const olderStart = seqOf(snaps[0]!);
        const segs = segmentFiles(walDir).map(seqOf);
        // No segment wholly at or below the older snapshot's start is left ...
        for (let i = 0; i + 1 < segs.length; i++) expect(segs[i + 1]! - 1, `round ${round}: segments ${segs.join(',')}`).toBeGreaterThan(olderStart);
        // ... and the log after it is all there.
        expect(segs[0]!).toBeLessThanOrEqual(olderStart + 1);
        const walSeqs = walSequences(segmentFiles(walDir).map((n) => join(walDir, n)));
        expect(walSeqs[walSeqs.length - 1]).toBe(lastSeq);
        expect(walSeqs).toEqual(Array.from({ length: walSeqs.length }, (_, i) => walSeqs[0]! + i));
        if (archived) {
          // Archive + WAL: every sequence from the first, once.
          const all = walSequences([...segmentFiles(archiveDir).map((n) => join(archiveDir, n)), ...segmentFiles(walDir).map((n) => join(walDir, n))]);
          expect(all).toEqual(Array.from({ length: lastSeq }, (_, i) => i + 1));
        } else {
          expect(existsSync(archiveDir)).toBe(false);
        }
      }
      // Each snapshot rolled the log, so without removal there would be 8 segments.
      expect(segmentFiles(walDir).length).toBeLessThanOrEqual(3);
      expect(seqOf(segmentFiles(walDir)[0]!)).toBeGreaterThan(seqOf(taken[taken.length - 3]!));
      if (archived) expect(segmentFiles(archiveDir).length).toBeGreaterThanOrEqual(4);
      await server.kill9();
      c.close();
      const again = await startServer({ dataDir });
      expect(recoveredLine(again)).toContain(`from snapshot ${taken[taken.length - 1]}`);
      const r = await Client.connect({ port: again.port });
      const got = await getAll(r, [...expected.keys()]);
      for (const [k, v] of expected) expect(got.get(k)?.value.toString(), k).toBe(v);
      r.close();
      expect(await again.stop()).toBe(0);
    });
  }
});
