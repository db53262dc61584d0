// Point-in-time recovery for `memcached-lite replay`: the state as of WAL
// sequence N, from a snapshot at or below N plus the records after it
// through N, read from the data directory's WAL and optionally a
// --wal-archive directory (merged by sequence; a segment present in both is
// read twice and its records taken once).
//
// Choosing the base. A snapshot written by a running server is fuzzy: it
// starts at S but may already show effects logged while it was being written
// (through some E >= S that the file does not record). Replaying S+1..N over
// it is exact only when N >= E. Two facts bound E: the server runs one
// compaction at a time, so a later snapshot's start S' >= E; and the WAL was
// fsynced through E before the snapshot became visible, so if no record after
// N exists, N >= E. The base is therefore, in order of preference:
//   1. the newest base whose exactness is proven (no snapshot at all, or a
//      snapshot followed by another snapshot file started at or below N) and
//      whose records through N are all available;
//   2. otherwise the newest snapshot at or below N whose records are
//      available. Then a put logged after N that already shows in it (same
//      CAS) is detected and refused; a delete, touch or flush logged after N
//      cannot be detected, and a note says so.

import type { Disk } from '../wal/disk.js';
import type { SegmentRef } from '../wal/segments.js';
import { listSnapshots, type SnapshotRef } from '../snapshot/snapshot.js';
import type { Engine } from '../engine/engine.js';
import { checkSnapshot, checkedImage, offlineEngine, ToolError, type SnapshotCheck } from './offline.js';
import { listSegmentsIfAny, scanSegment, type SegmentScan } from './wal-scan.js';

export interface ReplayOptions {
  disk: Disk;
  snapshotDir: string;
  /** WAL directories to read, e.g. DATA_DIR/wal and the archive. */
  walDirs: string[];
  toSeq: number;
  note(message: string): void;
}

export interface ReplayResult {
  engine: Engine;
  base: SnapshotRef | null;
  records: number;
  /** True when the base could not be proven exact (see the file comment). */
  unproven: boolean;
}

interface Interval { from: number; to: number }

function intervalsOf(scans: SegmentScan[]): Interval[] {
  const runs = scans.filter((s) => s.firstSeq !== null).map((s) => ({ from: s.firstSeq!, to: s.lastSeq! })).sort((a, b) => a.from - b.from);
  const out: Interval[] = [];
  for (const r of runs) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to);
    else out.push({ ...r });
  }
  return out;
}

export async function replayTo(opts: ReplayOptions): Promise<ReplayResult> {
  const { disk, toSeq: n } = opts;
  const snapshots = await listSnapshots(disk, opts.snapshotDir);
  const segments: SegmentRef[] = [];
  for (const dir of opts.walDirs) segments.push(...(await listSegmentsIfAny(disk, dir)));
  segments.sort((a, b) => a.firstSeq - b.firstSeq);
  const scans: SegmentScan[] = [];
  for (const ref of segments) scans.push(scanSegment(ref, await disk.readFile(ref.path)));
  const intervals = intervalsOf(scans);
  const covered = (s: number) => n <= s || intervals.some((iv) => iv.from <= s + 1 && iv.to >= n);
  const provenExact = (s: number) => snapshots.some((r) => r.startSeq > s && r.startSeq <= n);

  // Candidate bases, newest first; null is "no snapshot" (state 0, always exact).
  const checks = new Map<SnapshotRef, SnapshotCheck>();
  const usable = async (ref: SnapshotRef): Promise<boolean> => {
    if (!checks.has(ref)) {
      const c = await checkSnapshot(disk, ref);
      checks.set(ref, c);
      if (!c.ok) opts.note(`snapshot ${ref.path} is not usable (${c.reason}); skipped`);
    }
    return checks.get(ref)!.ok;
  };
  const atOrBelow = snapshots.filter((r) => r.startSeq <= n).reverse();
  let base: SnapshotRef | null | undefined;
  for (const ref of atOrBelow) {
    if (provenExact(ref.startSeq) && covered(ref.startSeq) && (await usable(ref))) { base = ref; break; }
  }
  if (base === undefined && covered(0)) base = null;
  let unproven = false;
  if (base === undefined) {
    for (const ref of atOrBelow) {
      if (covered(ref.startSeq) && (await usable(ref))) { base = ref; unproven = true; break; }
    }
  }
  if (base === undefined) throw new ToolError(1, await cannotReach(opts, n, snapshots, atOrBelow, checks, scans, intervals));

  const engine = offlineEngine();
  let leakCheck: Map<number, string> | null = null;
  if (base) {
    const check = checks.get(base) as Extract<SnapshotCheck, { ok: true }>;
    const image = checkedImage(check);
    await engine.restore(image);
    if (unproven) {
      // Items changed after the snapshot started carry a CAS at or above its header's nextCas.
      const checkMap = new Map<number, string>();
      image.forEachItem((key, keyStart, keyEnd, _v, _s, _e, _f, _x, cas) => {
        if (cas >= check.header.nextCas) checkMap.set(cas, key.toString('latin1', keyStart, keyEnd));
      });
      leakCheck = checkMap;
    }
  }
  let cur = base?.startSeq ?? 0;
  let records = 0;
  for (const [i, ref] of segments.entries()) {
    const last = scans[i]!.lastSeq;
    if (cur >= n && !leakCheck) break;
    if (last === null || !((cur < n && last > cur) || (leakCheck && last > n))) continue;
    let leak: { seq: number; key: string } | null = null;
    scanSegment(ref, await disk.readFile(ref.path), (effect) => {
      if (effect.seq === cur + 1 && effect.seq <= n) {
        engine.applyEffect(effect);
        cur = effect.seq;
        records++;
      } else if (effect.seq > n) {
        if (leakCheck && effect.kind === 'put' && leakCheck.get(effect.cas) === effect.key) leak ??= { seq: effect.seq, key: effect.key };
      }
    });
    const found = leak as { seq: number; key: string } | null;
    if (found) {
      throw new ToolError(1, `cannot rebuild the state at sequence ${n} from snapshot ${base!.name}: it was written while the server ran and already shows the put of key ${JSON.stringify(found.key)} logged at sequence ${found.seq}; give --wal-archive with older segments so an earlier base can be used`);
    }
  }
  if (cur !== n) throw new ToolError(3, `internal error: replay stopped at sequence ${cur}, not ${n}`);
  if (unproven && intervals.some((iv) => iv.to > n)) {
    opts.note(`note: snapshot ${base!.name} was written while a server ran and may show effects logged while it was being written; no put after ${n} shows in it, but a delete, touch or flush_all logged after ${n} during that time cannot be ruled out (an older base, from --wal-archive, avoids this)`);
  }
  return { engine, base, records, unproven };
}

async function cannotReach(
  opts: ReplayOptions, n: number, snapshots: SnapshotRef[], atOrBelow: SnapshotRef[], checks: Map<SnapshotRef, SnapshotCheck>,
  scans: SegmentScan[], intervals: Interval[],
): Promise<string> {
  for (const ref of atOrBelow) if (!checks.has(ref)) checks.set(ref, await checkSnapshot(opts.disk, ref));
  const validBelow = atOrBelow.filter((r) => checks.get(r)!.ok);
  const walEnd = intervals.length ? intervals[intervals.length - 1]!.to : 0;
  const snapshotEnd = snapshots.length ? snapshots[snapshots.length - 1]!.startSeq : 0;
  const lines: string[] = [];
  if (n > Math.max(walEnd, snapshotEnd)) {
    lines.push(`cannot rebuild the state at sequence ${n}: it is past the end of the log (the newest record is ${walEnd}${snapshotEnd > walEnd ? `, the newest snapshot starts at ${snapshotEnd}` : ''})`);
  } else {
    const newest = validBelow[0]?.startSeq ?? 0;
    lines.push(`cannot rebuild the state at sequence ${n}: that needs a snapshot at or below ${n} and every WAL record after it through ${n}`);
    lines.push(`  snapshots at or below ${n}: ${validBelow.length ? validBelow.map((r) => r.name).join(', ') : 'none usable'}`);
    lines.push(`  WAL records available (${opts.walDirs.join(', ')}): ${intervals.length ? intervals.map((iv) => `${iv.from}..${iv.to}`).join(', ') : 'none'}`);
    lines.push(`  records ${newest + 1}..${n} are not all there: the segments holding them were removed by compaction (start the server with --wal-archive DIR to keep them, then pass --wal-archive DIR here)`);
  }
  for (const s of scans) if (s.bad) lines.push(`  damaged segment ${s.ref.path} at offset ${s.bad.offset} (${s.bad.reason}): records after it are unreadable`);
  return lines.join('\n');
}
