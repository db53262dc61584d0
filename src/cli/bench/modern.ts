// The modern methodology: C persistent connections, each sending batches of
// DEPTH pipelined requests (one write) and sending the next batch only when
// every reply of the last one arrived, as redis-benchmark -P does; each
// section runs for a fixed duration, and completed operations are counted
// per second of it.
//
// Sections: SET of random keys of a fixed keyspace, GET of random keys among
// those this server acknowledged as stored (so a miss is a real miss), and
// both mixed half and half. A request's latency runs from its batch's write
// to its own reply, so with DEPTH > 1 it includes the wait behind the
// requests ahead of it in the batch.
//
// Invariants: connections are open before the clock starts; only replies
// that arrive within the duration are counted and timed (the batches still
// in flight at the end are drained, not counted); a connection that fails
// counts its unanswered requests as errors and stops.

import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { cpuMeter } from './cpu.js';
import { Histogram } from './histogram.js';
import { ReplyReader, type Outcome } from './replies.js';
import { sections, type Endpoint, type ModernRun, type Section } from './results.js';
import { getRequest, makeRng, pick, randomKey, randomValue, setRequest, type Rng } from './workload.js';

/** Prebuilt requests for every key, so building a batch costs one concat. */
export class Keyspace {
  readonly sets: Buffer[] = [];
  readonly gets: Buffer[] = [];

  constructor(seed: number, size: number) {
    const rng = makeRng(seed * 104_729 + 17);
    for (let i = 0; i < size; i++) {
      const key = randomKey(rng);
      this.sets.push(setRequest(key, randomValue(rng)));
      this.gets.push(getRequest(key));
    }
  }

  get size(): number {
    return this.sets.length;
  }
}

/** The keys one server acknowledged as stored (each listed once). */
export class Written {
  private readonly seen: Uint8Array;
  readonly list: number[] = [];

  constructor(size: number) {
    this.seen = new Uint8Array(size);
  }

  mark(index: number): void {
    if (this.seen[index]) return;
    this.seen[index] = 1;
    this.list.push(index);
  }
}

/** A request as a number: a SET of key i is i, a GET of key i is ~i (negative). */
function nextOp(section: Section, rng: Rng, keys: Keyspace, written: Written): number {
  const op = section === 'mixed' ? (rng() < 0.5 ? 'set' : 'get') : section;
  if (op === 'set') return pick(rng, keys.size);
  const pool = written.list;
  return ~(pool.length > 0 ? pool[pick(rng, pool.length)]! : pick(rng, keys.size));
}

class RunRecorder {
  readonly latency = new Histogram();
  ok = 0;
  misses = 0;
  errors = 0;
  readonly perSecond: number[];
  start = 0;
  deadline = 0;

  constructor(durationS: number) {
    this.perSecond = new Array<number>(Math.ceil(durationS)).fill(0);
  }

  get running(): boolean {
    return performance.now() < this.deadline;
  }

  /** Counts one reply if it arrived within the run. */
  reply(outcome: Outcome, batchStart: number, now: number): void {
    if (now > this.deadline) return;
    if (outcome === 'error' || outcome === 'unexpected') {
      this.errors++;
      return;
    }
    if (outcome === 'miss') this.misses++;
    else this.ok++;
    this.latency.recordMs(now - batchStart);
    this.perSecond[Math.min(this.perSecond.length - 1, Math.floor((now - this.start) / 1000))]!++;
  }
}

interface Shared {
  section: Section;
  depth: number;
  keys: Keyspace;
  written: Written;
  rec: RunRecorder;
  timeoutMs: number;
}

/** One persistent connection sending batches until the run's deadline. */
class PipelinedConnection {
  private readonly reader: ReplyReader;
  private readonly batch: number[] = [];
  private replied = 0;
  private batchStart = 0;
  private finished = false;
  private resolveDone!: () => void;
  readonly done = new Promise<void>((resolve) => { this.resolveDone = resolve; });

  constructor(private readonly socket: Socket, private readonly shared: Shared, private readonly rng: Rng) {
    this.reader = new ReplyReader((outcome) => this.onReply(outcome));
    const fail = (): void => this.fail();
    socket.setTimeout(shared.timeoutMs, fail);
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', fail);
    socket.on('close', fail);
  }

  static open(target: Endpoint, shared: Shared, rng: Rng): Promise<PipelinedConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port });
      socket.setNoDelay(true);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new PipelinedConnection(socket, shared, rng));
      });
    });
  }

  sendBatch(): void {
    const { section, depth, keys, written } = this.shared;
    const parts: Buffer[] = [];
    this.batch.length = 0;
    this.replied = 0;
    for (let i = 0; i < depth; i++) {
      const op = nextOp(section, this.rng, keys, written);
      this.batch.push(op);
      parts.push(op >= 0 ? keys.sets[op]! : keys.gets[~op]!);
      this.reader.expect(op >= 0 ? 'stored' : 'get');
    }
    this.batchStart = performance.now();
    this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
  }

  /**
   * Reads a chunk; the next batch goes out only after the whole chunk is read,
   * so a reply line beyond the batch in the same read is caught as unexpected
   * instead of being taken for a reply to the next batch.
   */
  private receive(chunk: Buffer): void {
    this.reader.feed(chunk);
    if (this.finished || this.replied < this.batch.length) return;
    if (this.shared.rec.running) this.sendBatch();
    else this.finish();
  }

  private onReply(outcome: Outcome): void {
    if (this.finished) return;
    // a line nothing asked for: replies no longer match requests on this connection
    if (outcome === 'unexpected') return this.fail(1);
    const op = this.batch[this.replied++];
    this.shared.rec.reply(outcome, this.batchStart, performance.now());
    if (op !== undefined && op >= 0 && outcome === 'ok') this.shared.written.mark(op);
  }

  /** The connection broke, stalled or desynchronised: its unanswered requests (and `extra`) are errors. */
  private fail(extra = 0): void {
    if (this.finished) return;
    if (this.shared.rec.running) this.shared.rec.errors += this.batch.length - this.replied + extra;
    this.finish();
  }

  /** Stops without counting anything (also used to give up a run that could not start). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.socket.destroy();
    this.resolveDone();
  }
}

export interface RunSpec {
  target: Endpoint;
  section: Section;
  clients: number;
  depth: number;
  durationS: number;
  keys: Keyspace;
  written: Written;
  seed: number;
  timeoutMs: number;
  onProgress?: (elapsedMs: number) => void;
}

/** Opens every connection, or none: on a failure the ones already open are closed. */
async function openAll(spec: RunSpec, shared: Shared, seedBase: number): Promise<PipelinedConnection[]> {
  const opened = await Promise.allSettled(Array.from({ length: spec.clients }, (_, i) => PipelinedConnection.open(spec.target, shared, makeRng(seedBase + i))));
  const conns = opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (!failure) return conns;
  for (const c of conns) c.finish();
  throw new Error(`${spec.target.name}: cannot open ${spec.clients} connections: ${(failure.reason as Error).message}`);
}

/** Runs one section for its duration and summarises it. */
export async function runModern(spec: RunSpec): Promise<ModernRun> {
  const rec = new RunRecorder(spec.durationS);
  const shared: Shared = { section: spec.section, depth: spec.depth, keys: spec.keys, written: spec.written, rec, timeoutMs: spec.timeoutMs };
  const base = spec.seed * 65_537 + sections.indexOf(spec.section) * 1_009 + spec.depth;
  const conns = await openAll(spec, shared, base);
  const cpu = cpuMeter();
  rec.start = performance.now();
  rec.deadline = rec.start + spec.durationS * 1000;
  const ticker = setInterval(() => spec.onProgress?.(performance.now() - rec.start), 200);
  for (const c of conns) c.sendBatch();
  await Promise.all(conns.map((c) => c.done));
  const generatorCpuPct = cpu();
  clearInterval(ticker);
  return {
    server: spec.target.name,
    tool: 'mcl bench',
    section: spec.section,
    clients: spec.clients,
    depth: spec.depth,
    durationS: spec.durationS,
    ok: rec.ok,
    misses: rec.misses,
    errors: rec.errors,
    generatorCpuPct,
    throughputOpsPerS: Math.round((rec.ok + rec.misses) / spec.durationS),
    latency: rec.latency.summary(),
    perSecond: rec.perSecond,
  };
}
