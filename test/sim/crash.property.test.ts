// Crash consistency (DESIGN.md section 6): the real Engine + WalWriter
// ('always') + Compactor run on a SimDisk with a fake clock; random operations,
// snapshots (awaited or in the background) and crashes (at random points, or
// frozen right after a chosen disk operation: a rename before its directory
// sync, a segment unlink, a write before its fsync...). After each crash the
// system recovers exactly as src/main.ts does and we check:
//   - the recovered state (key, value, flags, cas) is the state after some
//     prefix of the issued operations, namely the one ending at the recovered
//     engine's lastSeq, and that prefix includes every acknowledged operation
//     (reply seq <= wal.ackedSeq when observed) and everything recovered before;
//   - no value appears that was never written;
//   - CAS values handed out after recovery are above every CAS issued in the
//     recovered prefix (they never go backwards);
//   - recovering twice from the same crashed disk gives the same state.
// Then the recovered system keeps running for more rounds.
//
// Sabotage switches (to see the property fail): SIM_SABOTAGE=ack-early treats
// replies as acknowledged at once; SIM_SABOTAGE=no-before-commit makes the
// snapshot's beforeCommit (LogControl.syncThrough) a no-op;
// SIM_SABOTAGE=no-dirsync gives the system a disk whose syncDir does nothing.
// Reproduce a failure with SIM_SEED=<seed> SIM_PATH=<path> from fast-check's
// report (the WAL's 300 us group-commit window reads the real clock, so a
// replay can batch differently; the seed then usually, not always, repeats it).
// SIM_RUNS sets numRuns, SIM_STATS=1 prints coverage counters.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.js';
import { safeStrtoull, u64_max } from '../../src/engine/cnumbers.js';
import type { Effect } from '../../src/engine/types.js';
import { recoverWal } from '../../src/wal/recovery.js';
import { listSegments, removeCoveredSegments } from '../../src/wal/segments.js';
import { WalWriter } from '../../src/wal/writer.js';
import type { Disk } from '../../src/wal/disk.js';
import { Compactor, loadNewestSnapshot, type SnapshotSource } from '../../src/snapshot/index.js';
import { makeRng, SimDisk, type Rng } from './sim-disk.js';

const sabotage = process.env.SIM_SABOTAGE ?? '';
const numRuns = Number(process.env.SIM_RUNS ?? 1000);

/** Coverage counters (printed with SIM_STATS=1), to see that the scenarios reach what they aim at. */
export const stats = { runs: 0, crashes: 0, frozen: 0, snapshotsDone: 0, acked: 0, recoveredRecords: 0, tornTails: 0, segmentsMax: 0, fromSnapshot: 0, crashLostUnacked: 0 };

const DATA = '/data';
const WAL = join(DATA, 'wal');
const SNAP = join(DATA, 'snapshots');
const KEYS = ['a', 'b', 'c', 'd'] as const;

// ---- steps -------------------------------------------------------------------

type Step =
  | { t: 'set'; key: string; val: string; flags: number }
  | { t: 'del'; key: string }
  | { t: 'incr'; key: string; amt: number }
  | { t: 'append'; key: string; suffix: string }
  | { t: 'wait'; turns: number }
  | { t: 'sync' }
  | { t: 'snap' }
  | { t: 'snapBg' }
  | { t: 'arm'; op: string; where: 'wal' | 'snapshots' | 'any'; nth: number }
  | { t: 'crash' };

const key = fc.constantFrom(...KEYS);
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('set' as const), key, val: fc.oneof(fc.nat(999).map(String), fc.nat(99).map((n) => `x${n}`)), flags: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), key }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('incr' as const), key, amt: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('append' as const), key, suffix: fc.constantFrom('7', 'y', '00') }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('wait' as const), turns: fc.nat(8) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'sync' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'snap' as const }) },
  { weight: 2, arbitrary: fc.constant({ t: 'snapBg' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('arm' as const),
      op: fc.constantFrom('rename', 'syncDir', 'unlink', 'datasync', 'write', 'truncate', 'open'),
      where: fc.constantFrom('wal' as const, 'snapshots' as const, 'any' as const),
      nth: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'crash' as const }) },
);

// ---- the system under test, booted as src/main.ts does -----------------------

interface Sys { disk: SimDisk; engine: Engine; wal: WalWriter; compactor: Compactor; reports: string[]; recoveryLogs: string[] }

function makeClock(): () => number {
  let t = 1_700_000_000_000;
  return () => (t += 7);
}

/** The disk the system sees: the SimDisk itself, or (sabotage) one whose directory fsync lies. */
function systemDisk(disk: SimDisk): Disk {
  if (sabotage !== 'no-dirsync') return disk;
  return {
    open: (p, c) => disk.open(p, c), readFile: (p) => disk.readFile(p), readdir: (p) => disk.readdir(p), mkdirp: (p) => disk.mkdirp(p),
    rename: (a, b) => disk.rename(a, b), unlink: (p) => disk.unlink(p), copyFile: (a, b) => disk.copyFile(a, b),
    size: (p) => disk.size(p), exists: (p) => disk.exists(p), syncDir: async () => {},
  };
}

async function boot(simDisk: SimDisk, now: () => number, onEffect: (e: Effect) => void): Promise<Sys> {
  const disk = systemDisk(simDisk);
  const recoveryLogs: string[] = [];
  const log = (m: string) => { recoveryLogs.push(m); };
  await disk.mkdirp(WAL);
  let sink: (e: Effect) => void = () => { throw new Error('the engine emitted an effect during recovery'); };
  const engine = new Engine({ memoryLimitBytes: 64 * 1024 * 1024, itemSizeMaxBytes: 1024 * 1024, evictionsDisabled: false }, (e) => sink(e));
  // removeStaleTempFiles
  if (await disk.exists(SNAP)) {
    for (const name of await disk.readdir(SNAP)) if (name.endsWith('.tmp')) await disk.unlink(join(SNAP, name));
  }
  const snapshot = await loadNewestSnapshot(disk, SNAP, log, { restore: (image) => engine.restore(image) });
  const report = await recoverWal({
    disk, walDir: WAL, afterSeq: snapshot?.header.startSeq ?? 0, repair: false,
    onRecord: (effect) => engine.applyEffect(effect), log,
  });
  let olderBytes = 0;
  for (const s of await listSegments(disk, WAL)) if (s.path !== report.tail?.segment.path) olderBytes += await disk.size(s.path);
  const wal = await WalWriter.open({
    disk, walDir: WAL, mode: 'always', tail: report.tail, lastSeq: Math.max(report.lastSeq, engine.lastSeq),
    olderSegmentsBytes: olderBytes, ballastBytes: 4096, segmentSizeMaxBytes: 512, now,
    onFatal: (err) => { throw err; },
    log,
  });
  sink = (e) => { onEffect(e); wal.append(e); };
  engine.enforceMemoryLimit(now());
  const source: SnapshotSource = {
    lastSeq: () => engine.lastSeq,
    nextCas: () => engine.casNext,
    pendingFlushAtMs: () => engine.flushPendingAtMs,
    scan: () => engine.scan(now),
  };
  const reports: string[] = [];
  const compactor = new Compactor({
    disk, snapshotDir: SNAP, source, serverVersion: 'sim', now, report: (m) => { reports.push(m); },
    log: {
      requestRoll: () => wal.requestRoll(),
      syncThrough: (seq) => (sabotage === 'no-before-commit' ? Promise.resolve() : wal.syncThrough(seq)),
      removeThrough: async (seq) => {
        const bytes = await removeCoveredSegments(disk, WAL, seq);
        wal.segmentsRemoved(bytes);
        return bytes;
      },
    },
  });
  return { disk: simDisk, engine, wal, compactor, reports, recoveryLogs };
}

/** Canonical text of the engine's items: key, value, flags, cas. */
function stateOf(engine: Engine, nowMs: number): string {
  const rows: string[] = [];
  for (const [k, item] of engine.dump(nowMs)) rows.push(`${k}=${item.value.toString('latin1')}|${item.flags}|${item.cas}`);
  return rows.sort().join('\n');
}

// ---- the independent model (values and flags only) ------------------------------

type Model = Map<string, { value: string; flags: number }>;

function applyModel(model: Model, step: Step): void {
  const old = 'key' in step ? model.get(step.key) : undefined;
  switch (step.t) {
    case 'set': model.set(step.key, { value: step.val, flags: step.flags }); break;
    case 'del': model.delete(step.key); break;
    case 'append': if (old) model.set(step.key, { value: old.value + step.suffix, flags: old.flags }); break;
    case 'incr': {
      if (!old) break;
      const cur = old.value.length === 0 ? null : safeStrtoull(Buffer.from(old.value, 'latin1'));
      if (cur === null) break;
      const digits = ((cur + BigInt(step.amt)) & u64_max).toString();
      model.set(step.key, { value: digits.length >= old.value.length ? digits : digits.padEnd(old.value.length, ' '), flags: old.flags });
      break;
    }
    default: break;
  }
}

function modelText(model: Model): string {
  return [...model].map(([k, v]) => `${k}=${v.value}|${v.flags}`).sort().join('\n');
}

function withoutCas(state: string): string {
  return state.split('\n').filter(Boolean).map((row) => row.slice(0, row.lastIndexOf('|'))).join('\n');
}

// ---- one run -------------------------------------------------------------------

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

function listSegmentsNow(disk: SimDisk): string[] {
  return [...disk.files().keys()].filter((p) => p.endsWith('.wal'));
}

async function runScenario(seed: number, steps: Step[]): Promise<void> {
  stats.runs++;
  const now = makeClock();
  const crashRng: Rng = makeRng(seed ^ 0x5eed);
  let disk = new SimDisk(makeRng(seed));

  // History of the current round: states[i] is the state at seq baseSeq + i.
  let baseSeq = 0;
  let states: string[] = [''];
  let maxCasThrough: number[] = [0];
  let casFloor = 0; // every CAS issued from now on must exceed it
  let maxAckedSeq = 0; // the recovered prefix must reach at least this seq
  let pendingReplies: number[] = [];
  let model: Model = new Map();
  const everWritten = new Set<string>();
  let lastPutCas = 0;
  const onEffect = (e: Effect) => {
    if (e.kind !== 'put') return;
    if (e.cas <= casFloor) throw new Error(`CAS went backwards: new write got ${e.cas}, but ${casFloor} was issued before the crash`);
    lastPutCas = e.cas;
  };

  let sys = await boot(disk, now, onEffect);

  const observe = () => {
    const acked = sys.wal.ackedSeq;
    pendingReplies = pendingReplies.filter((seq) => {
      if (seq > acked) return true;
      if (seq > maxAckedSeq) maxAckedSeq = seq;
      stats.acked++;
      return false;
    });
  };
  /**
   * Event-loop turns until cond() holds or the disk halted; a hang otherwise is
   * a liveness bug. Compressing the fallback snapshot runs on zlib's thread
   * pool, which turns alone do not wait for, hence also a time bound.
   */
  const until = async (cond: () => boolean, what: string) => {
    const started = Date.now();
    for (let i = 0; !cond() && !disk.halted; i++) {
      if (i > 20_000 && Date.now() - started > 10_000) throw new Error(`stuck waiting for ${what}`);
      await turns(1);
      observe();
    }
  };

  const crashAndRecover = async () => {
    stats.crashes++;
    if (disk.halted) stats.frozen++;
    stats.segmentsMax = Math.max(stats.segmentsMax, listSegmentsNow(disk).length);
    const crashed = disk.crash(crashRng);
    void sys.wal.close(); // stops its timers; its I/O hangs on the dead disk
    // Recover from an identical copy first: both recoveries must agree.
    const twin = await boot(crashed.clone(), now, () => {});
    const twinState = stateOf(twin.engine, now());
    const twinSeq = twin.engine.lastSeq;
    await twin.wal.close();

    disk = crashed;
    sys = await boot(disk, now, onEffect);
    const state = stateOf(sys.engine, now());
    const L = sys.engine.lastSeq;
    const ctx = () => `recovered lastSeq ${L}; round base ${baseSeq}, issued through ${baseSeq + states.length - 1}, acked through ${maxAckedSeq}\nrecovered:\n${state}\nlogs: ${sys.recoveryLogs.join(' / ')}`;

    if (sys.recoveryLogs.some((m) => m.includes('torn tail'))) stats.tornTails++;
    if (sys.recoveryLogs.length || L > baseSeq) stats.recoveredRecords += L - baseSeq;
    if (L < baseSeq + states.length - 1) stats.crashLostUnacked++;
    if (await disk.exists(SNAP) && (await disk.readdir(SNAP)).some((n) => n.endsWith('.jsonl'))) stats.fromSnapshot++;
    expect(twinState, 'recovering twice from the same crashed disk').toBe(state);
    expect(twinSeq).toBe(L);
    expect(L, `lost acknowledged writes: ${ctx()}`).toBeGreaterThanOrEqual(maxAckedSeq);
    expect(L, `recovered past what was issued: ${ctx()}`).toBeLessThanOrEqual(baseSeq + states.length - 1);
    expect(state, `recovered state is not the state after the prefix ending at seq ${L}: ${ctx()}`).toBe(states[L - baseSeq]);
    for (const row of withoutCas(state).split('\n').filter(Boolean)) {
      const value = row.slice(row.indexOf('=') + 1, row.lastIndexOf('|'));
      expect(everWritten.has(value), `value never written: ${row}`).toBe(true);
    }

    casFloor = Math.max(casFloor, maxCasThrough[L - baseSeq]!);
    baseSeq = L;
    states = [state];
    maxCasThrough = [casFloor];
    maxAckedSeq = L; // what recovery showed must not be lost by a later crash
    pendingReplies = [];
    model = new Map();
    for (const row of withoutCas(state).split('\n').filter(Boolean)) {
      const eq = row.indexOf('=');
      const bar = row.lastIndexOf('|');
      model.set(row.slice(0, eq), { value: row.slice(eq + 1, bar), flags: Number(row.slice(bar + 1)) });
    }
  };

  for (const step of steps) {
    const { engine } = sys;
    const t = now();
    const before = engine.lastSeq;
    lastPutCas = 0;
    let seq: number | null = null;
    switch (step.t) {
      case 'set': seq = engine.store('set', step.key, step.flags, 0, Buffer.from(step.val, 'latin1'), 0n, t).seq; break;
      case 'del': seq = engine.delete(step.key, t).seq; break;
      case 'incr': seq = engine.delta(step.key, true, BigInt(step.amt), t).seq; break;
      case 'append': seq = engine.store('append', step.key, 0, 0, Buffer.from(step.suffix, 'latin1'), 0n, t).seq; break;
      case 'wait': await turns(step.turns); break;
      case 'sync': {
        const target = engine.lastSeq;
        await until(() => sys.wal.ackedSeq >= target, 'the WAL to ack');
        break;
      }
      case 'snap': {
        let done = false;
        void sys.compactor.run().then((r) => { done = true; if (r) stats.snapshotsDone++; });
        await until(() => done, 'a snapshot');
        break;
      }
      case 'snapBg': void sys.compactor.run().then((r) => { if (r) stats.snapshotsDone++; }); break;
      case 'arm': {
        let seen = 0;
        disk.freezeAt((op, path) => op === step.op && (step.where === 'any' || path.includes(`/${step.where}`)) && seen++ === step.nth);
        break;
      }
      case 'crash': await crashAndRecover(); break;
    }
    if (seq !== null) {
      applyModel(model, step);
      for (const v of model.values()) everWritten.add(v.value);
      expect(withoutCas(stateOf(engine, t)), 'engine and model disagree').toBe(modelText(model));
      const emitted = engine.lastSeq - before;
      expect(emitted).toBeLessThanOrEqual(1);
      if (emitted === 1) {
        states.push(stateOf(engine, t));
        maxCasThrough.push(Math.max(maxCasThrough[maxCasThrough.length - 1]!, lastPutCas));
      }
      if (sabotage === 'ack-early') maxAckedSeq = Math.max(maxAckedSeq, seq);
      else pendingReplies.push(seq);
    }
    observe();
    const failed = sys.reports.find((m) => m.startsWith('snapshot failed'));
    if (failed && !disk.halted) throw new Error(`compaction failed on a healthy disk: ${failed}`);
  }
  await crashAndRecover();
  await sys.wal.close();
}

describe('crash consistency on a simulated disk', () => {
  it('recovers a prefix containing every acknowledged write, across crashes and snapshots', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.array(stepArb, { minLength: 10, maxLength: 100, size: 'max' }), (seed, steps) => runScenario(seed, steps)),
      {
        numRuns,
        ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
        ...(process.env.SIM_PATH ? { path: process.env.SIM_PATH } : {}),
      },
    );
    if (process.env.SIM_STATS) console.log(stats);
  }, Math.max(60_000, numRuns * 30));
});
