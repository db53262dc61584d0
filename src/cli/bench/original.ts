// The original methodology: N concurrent clients, each sending its requests
// one after another, every request on a new connection: connect, send, read
// the reply, close. Sections per N: SET of fresh keys, GET of those keys, and
// SET+GET mixed in random order (a GET reads one of the client's SET keys, a
// SET writes a fresh key).
//
// A request's latency runs from before connect() to its complete reply, so it
// includes the TCP handshake and accept, as a connection-per-request user
// sees it. The close comes after the clock stops (the client closes first, so
// the TIME_WAIT is on the client side, as with such users).
//
// noreply: half the SETs, chosen at random, carry noreply. Sent alone and
// closed, such a SET would time only connect and write: the server's work on
// it (and in memcached-lite its fsync) would not be measured at all, and the
// client would move on before the server even read it. Instead `version` is
// sent behind it in the same write and its reply ends the request: a server
// answers requests on a connection in order, so that reply comes after the
// SET was handled (in memcached-lite, after it is durable, because replies
// leave in request order and the SET's empty reply is held until then). The
// noreply SET thus costs what a replied one does, minus one reply line.
//
// Invariants: with one seed, every server gets the same keys, values and
// choices; a point's clients all start together and the point ends when the
// last one finishes; an error (error reply, refused or dropped connection,
// timeout) is counted and not timed.

import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { cpuMeter } from './cpu.js';
import { Histogram } from './histogram.js';
import { ReplyReader, type Expect, type Outcome } from './replies.js';
import { sections, type Endpoint, type OriginalPoint, type Section } from './results.js';
import { getRequest, makeRng, pick, randomKey, randomValue, setRequest, version_request, type Rng } from './workload.js';

interface Shot {
  op: 'set' | 'get';
  payload: Buffer;
  expect: Expect;
  noreply: boolean;
}

/** One request on its own connection; resolves to its outcome and latency (ms). */
export function connectionPerRequest(target: Endpoint, payload: Buffer, expect: Expect, timeoutMs: number): Promise<{ outcome: Outcome; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = connect({ host: target.host, port: target.port });
    let settled = false;
    const finish = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      const ms = performance.now() - t0;
      socket.destroy();
      resolve({ outcome, ms });
    };
    const reader = new ReplyReader(finish);
    reader.expect(expect);
    // no setNoDelay: the request is one write, and Nagle never holds a first segment
    socket.setTimeout(timeoutMs, () => finish('error'));
    socket.on('data', (chunk: Buffer) => reader.feed(chunk));
    socket.on('error', () => finish('error'));
    socket.on('close', () => finish('error'));
    socket.write(payload);
  });
}

function setShot(rng: Rng, key: string): Shot {
  const noreply = rng() < 0.5;
  const set = setRequest(key, randomValue(rng), noreply);
  return noreply
    ? { op: 'set', payload: Buffer.concat([set, version_request]), expect: 'version', noreply }
    : { op: 'set', payload: set, expect: 'stored', noreply };
}

function getShot(key: string): Shot {
  return { op: 'get', payload: getRequest(key), expect: 'get', noreply: false };
}

/** The requests of one client in one section; `keys` are the client's SET-section keys. */
function plan(section: Section, keys: string[], rng: Rng): Shot[] {
  if (section === 'set') return keys.map((k) => setShot(rng, k));
  if (section === 'get') return keys.map(getShot);
  return keys.map(() => (rng() < 0.5 ? getShot(keys[pick(rng, keys.length)]!) : setShot(rng, randomKey(rng))));
}

/** Every client's keys at one N: the same for every server measured with the same seed. */
export function clientKeys(seed: number, clients: number, requests: number): string[][] {
  const rng = makeRng(seed * 1_000_003 + clients);
  return Array.from({ length: clients }, () => Array.from({ length: requests }, () => randomKey(rng)));
}

class PointRecorder {
  readonly all = new Histogram();
  readonly byOp = { set: new Histogram(), get: new Histogram() };
  ok = 0;
  misses = 0;
  errors = 0;
  noreplySets = 0;
  finished = 0;

  record(shot: Shot, outcome: Outcome, ms: number): void {
    this.finished++;
    if (shot.noreply) this.noreplySets++;
    if (outcome === 'error' || outcome === 'unexpected') {
      this.errors++;
      return;
    }
    if (outcome === 'miss') this.misses++;
    else this.ok++;
    this.all.recordMs(ms);
    this.byOp[shot.op].recordMs(ms);
  }
}

export interface PointSpec {
  target: Endpoint;
  section: Section;
  keys: string[][];
  seed: number;
  timeoutMs: number;
  onProgress?: (finished: number) => void;
}

/** Runs one point (all clients of one section at one N) and summarises it. */
export async function runOriginalPoint(spec: PointSpec): Promise<OriginalPoint> {
  const rec = new PointRecorder();
  const sectionIndex = sections.indexOf(spec.section);
  const plans = spec.keys.map((keys, i) => plan(spec.section, keys, makeRng(spec.seed * 7919 + i * 31 + sectionIndex)));
  const cpu = cpuMeter();
  const t0 = performance.now();
  await Promise.all(plans.map(async (shots) => {
    for (const shot of shots) {
      const { outcome, ms } = await connectionPerRequest(spec.target, shot.payload, shot.expect, spec.timeoutMs);
      rec.record(shot, outcome, ms);
      spec.onProgress?.(rec.finished);
    }
  }));
  const elapsedMs = performance.now() - t0;
  const byOp: OriginalPoint['byOp'] = {};
  if (rec.byOp.set.count > 0) byOp.set = rec.byOp.set.summary();
  if (rec.byOp.get.count > 0) byOp.get = rec.byOp.get.summary();
  return {
    server: spec.target.name,
    section: spec.section,
    clients: spec.keys.length,
    requestsPerClient: spec.keys[0]?.length ?? 0,
    ok: rec.ok,
    misses: rec.misses,
    errors: rec.errors,
    generatorCpuPct: cpu(),
    noreplySets: rec.noreplySets,
    elapsedMs: Math.round(elapsedMs),
    throughputOpsPerS: Math.round(((rec.ok + rec.misses) / elapsedMs) * 1000),
    latency: rec.all.summary(),
    byOp,
  };
}
