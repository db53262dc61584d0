// The binary protocol end to end, compared byte for byte with a real
// memcached: a fixed list of sessions of binary requests goes to our server
// (bin/memcached-lite, built) and to /usr/bin/memcached (started here on a
// free loopback port), each session on a fresh connection to each. The
// replies must be identical after normalising only what legitimately
// differs: CAS values (numbered by first appearance within the session, so
// equal CAS stay equal and a changed one shows), the version text, and the
// stat packets of a stat group (our counters differ; the status, opaque and
// end packet are compared).
//
// Each step is sent in one write followed by a noop marker, and read up to the
// marker's reply: memcached batches replies until a noop, and drops unsent
// ones when it closes a connection, so this keeps its output deterministic.
// A closing step is read until the connection closes.
//
// Then: data written over the binary protocol survives kill -9 and a restart.

import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemcached, stopDaemons, type Daemon } from './daemons.js';
import { cleanup, startServer, type ServerProcess } from './harness.js';
import { OP, deltaExtras, describePacket, frame, readPackets, storeExtras, u32s, type FrameOpts, type Packet } from '../net/binary-helpers.js';

afterAll(cleanup);

const MARKER_OPAQUE = 0xfeedface;
const marker = frame(OP.noop, { opaque: MARKER_OPAQUE });

// ---- a binary connection ---------------------------------------------------------

class BinaryConnection {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | null = null;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => { this.buf = Buffer.concat([this.buf, d]); this.wake?.(); });
    socket.on('close', () => { this.closed = true; this.wake?.(); });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<BinaryConnection> {
    return new Promise((res, rej) => {
      const s = connect({ host: '127.0.0.1', port }, () => res(new BinaryConnection(s)));
      s.once('error', rej);
    });
  }

  send(bytes: Buffer): void { this.socket.write(bytes); }

  /** Complete packets received until `done` holds for them (or the connection closes); rejects after 5 s. */
  async until(done: (packets: Packet[]) => boolean): Promise<Packet[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const { packets } = readPackets(this.buf);
      if (done(packets) || this.closed) return packets;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout; got ${packets.map(describePacket).join(' | ')}`);
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, left); });
    }
  }

  /** Forgets what was read so far. */
  consume(packets: Packet[]): void {
    let bytes = 0;
    for (const p of packets) bytes += 24 + p.extras.length + Buffer.byteLength(p.key, 'latin1') + p.value.length;
    this.buf = this.buf.subarray(bytes);
  }

  close(): void { this.socket.destroy(); }
}

// ---- sessions ------------------------------------------------------------------

/** What a step can use from the replies so far: the newest non-zero CAS. */
interface Seen { lastCas: bigint }
type Step = { frames: (seen: Seen) => Buffer[]; closes?: boolean };

const f = (op: number, o: FrameOpts = {}) => frame(op, o);
const set = (op: number, key: string, value: string | Buffer, flags = 0, exptime = 0, o: FrameOpts = {}) => f(op, { key, extras: storeExtras(flags, exptime), value, ...o });
const delta = (op: number, key: string, d: bigint, initial = 0n, exp = 0, o: FrameOpts = {}) => f(op, { key, extras: deltaExtras(d, initial, exp), ...o });
const step = (...frames: Buffer[]): Step => ({ frames: () => frames });
const withCas = (build: (cas: bigint) => Buffer[]): Step => ({ frames: (seen) => build(seen.lastCas) });
const closing = (...frames: Buffer[]): Step => ({ frames: () => frames, closes: true });

const sessions: Array<{ name: string; steps: Step[] }> = [
  { name: 'get family: misses and hits, quiet multi-get', steps: [
    step(f(OP.get, { key: 'nx', opaque: 1 }), f(OP.getk, { key: 'nx', opaque: 2 }), f(OP.getq, { key: 'nx', opaque: 3 }), f(OP.getkq, { key: 'nx', opaque: 4 })),
    step(set(OP.set, 'a', 'hello', 0xdeadbeef, 0, { opaque: 5 }), set(OP.setq, 'b', '', 1), f(OP.get, { key: 'a', opaque: 6 }), f(OP.getk, { key: 'b' })),
    step(f(OP.getkq, { key: 'a', opaque: 7 }), f(OP.getkq, { key: 'zz', opaque: 8 }), f(OP.getkq, { key: 'b', opaque: 9 }), f(OP.getq, { key: 'a' })),
  ] },
  { name: 'set, add, replace and quiet forms', steps: [
    step(set(OP.add, 'k', 'v1', 1, 0, { opaque: 1 }), set(OP.add, 'k', 'v2', 2, 0, { opaque: 2 }), set(OP.replace, 'nx', 'v', 0, 0, { opaque: 3 }), set(OP.replace, 'k', 'v3', 3)),
    step(set(OP.setq, 'q', 'x'), set(OP.addq, 'q', 'y', 0, 0, { opaque: 4 }), set(OP.replaceq, 'nx', 'y', 0, 0, { opaque: 5 }), set(OP.replaceq, 'q', 'z'), f(OP.get, { key: 'q' }), f(OP.get, { key: 'k' })),
    step(set(OP.set, 'exp', 'v', 0, 100), f(OP.getk, { key: 'exp' }), set(OP.set, 'past', 'v', 0, 1_000_000_000), f(OP.getk, { key: 'past' })),
  ] },
  { name: 'CAS on set, add and replace', steps: [
    step(set(OP.set, 'c', 'one')),
    withCas((cas) => [set(OP.set, 'c', 'two', 0, 0, { cas }), set(OP.set, 'c', 'three', 0, 0, { cas })]),
    withCas((cas) => [set(OP.add, 'c', 'four', 0, 0, { cas }), set(OP.replace, 'c', 'five', 0, 0, { cas: cas + 100n }), set(OP.set, 'nx', 'v', 0, 0, { cas })]),
    withCas((cas) => [set(OP.setq, 'c', 'six', 0, 0, { cas }), set(OP.setq, 'c', 'seven', 0, 0, { cas }), set(OP.add, 'nx2', 'v', 0, 0, { cas: 5n }), f(OP.getk, { key: 'c' })]),
  ] },
  { name: 'append and prepend', steps: [
    step(f(OP.append, { key: 'a', value: 'x' }), set(OP.set, 'a', 'mid', 7), f(OP.append, { key: 'a', value: '>' }), f(OP.prepend, { key: 'a', value: '<' })),
    withCas((cas) => [f(OP.append, { key: 'a', value: '!', cas: cas + 1n }), f(OP.append, { key: 'a', value: '!', cas })]),
    step(f(OP.appendq, { key: 'a', value: '?' }), f(OP.prependq, { key: 'nx', value: '?', opaque: 3 }), f(OP.getk, { key: 'a' })),
  ] },
  { name: 'delete', steps: [
    step(set(OP.set, 'd', '1'), set(OP.set, 'e', '2')),
    withCas((cas) => [f(OP.delete, { key: 'd', cas: cas + 1n }), f(OP.delete, { key: 'e', cas }), f(OP.delete, { key: 'd' }), f(OP.delete, { key: 'd', opaque: 4 })]),
    step(set(OP.set, 'q', ''), f(OP.deleteq, { key: 'q' }), f(OP.deleteq, { key: 'q', opaque: 5 }), f(OP.get, { key: 'q' })),
  ] },
  { name: 'incr and decr', steps: [
    step(delta(OP.incr, 'n', 1n, 10n), delta(OP.incr, 'n', 5n, 10n), delta(OP.decr, 'n', 100n), delta(OP.incrq, 'n', 1n), f(OP.getk, { key: 'n' })),
    step(delta(OP.incr, 'm', 1n, 10n, 0xffffffff), delta(OP.decrq, 'm', 1n, 0n, 0xffffffff), delta(OP.decrq, 'm2', 1n, 7n, 60), f(OP.getk, { key: 'm2' })),
    step(set(OP.set, 's', 'abc'), delta(OP.incr, 's', 1n), set(OP.set, 'e', ''), delta(OP.incr, 'e', 1n, 0n, 0, { cas: 999n }), delta(OP.incrq, 's', 1n)),
    step(set(OP.set, 'w', '18446744073709551615'), delta(OP.incr, 'w', 2n), f(OP.get, { key: 'w' })),
    // Not in the step of the get: memcached pads a shorter number in place only when no unsent reply still holds the item.
    step(delta(OP.decr, 'w', 0xffff_ffff_ffff_ffffn), f(OP.getk, { key: 'w' })),
    withCas((cas) => [delta(OP.incr, 'w', 1n, 0n, 0, { cas: cas + 7n }), delta(OP.incr, 'w', 1n, 0n, 0, { cas })]),
  ] },
  { name: 'touch and get-and-touch', steps: [
    step(set(OP.set, 't', 'v', 3), f(OP.touch, { key: 't', extras: u32s(100) }), f(OP.gat, { key: 't', extras: u32s(100) }), f(OP.gatk, { key: 't', extras: u32s(0) })),
    step(f(OP.gatq, { key: 't', extras: u32s(10) }), f(OP.gatkq, { key: 't', extras: u32s(10) }), f(OP.gatq, { key: 'nx', extras: u32s(10) }), f(OP.gatkq, { key: 'nx', extras: u32s(10) })),
    step(f(OP.touch, { key: 'nx', extras: u32s(1), opaque: 1 }), f(OP.gat, { key: 'nx', extras: u32s(1), opaque: 2 }), f(OP.gatk, { key: 'nx', extras: u32s(1), opaque: 3 })),
  ] },
  { name: 'flush, noop, version', steps: [
    step(set(OP.set, 'k', 'v'), f(OP.flush, { opaque: 1 }), f(OP.get, { key: 'k' }), set(OP.set, 'k', 'v'), f(OP.flushq), f(OP.get, { key: 'k' })),
    step(set(OP.set, 'k', 'v'), f(OP.flush, { extras: u32s(100) }), f(OP.get, { key: 'k' }), f(OP.flush, { extras: u32s(0) }), f(OP.get, { key: 'k' })),
    step(f(OP.noop, { opaque: 2 }), f(OP.version, { opaque: 3 })),
  ] },
  { name: 'stat', steps: [
    step(f(OP.stat, { opaque: 1 }), f(OP.stat, { key: 'settings', opaque: 2 }), f(OP.stat, { key: 'items', opaque: 3 }), f(OP.stat, { key: 'slabs', opaque: 4 })),
    step(f(OP.stat, { key: 'reset', opaque: 5 }), f(OP.stat, { key: 'nonsense', opaque: 6 }), f(OP.stat, { key: 'settingsXYZ', opaque: 7 })),
    // A stat body longer than its key: memcached reads the rest as the next request.
    step(f(OP.stat, { key: 'nonsense', value: f(OP.noop, { opaque: 8 }) })),
  ] },
  { name: 'unknown opcodes and SASL', steps: [
    step(f(0x50, { value: 'abc', opaque: 1 }), f(0x1b, { value: 'abcd', opaque: 2 })),
    step(f(0x60, { key: 'abc', opaque: 3 }), Buffer.from('JJJ'), f(0x61, { extras: u32s(1), key: 'k', value: 'vv' }), Buffer.from('JJJJJ')),
    step(f(0x20, { opaque: 4 }), f(0x21, { key: 'PLAIN', value: '\0user\0pass', opaque: 5 }), f(0x22, { key: 'PLAIN', opaque: 6 })),
  ] },
  { name: 'sizes and bytes', steps: [
    step(set(OP.set, 'big', 'old'), set(OP.set, 'big', Buffer.alloc(2 << 20, 0x61), 0, 0, { opaque: 1 }), f(OP.get, { key: 'big' })),
    step(set(OP.set, 'keep', 'old'), set(OP.addq, 'keep', Buffer.alloc(1 << 20), 0, 0, { opaque: 2 }), f(OP.append, { key: 'keep', value: Buffer.alloc(1 << 20), opaque: 3 }), f(OP.get, { key: 'keep' })),
    // The largest value with a 1-byte key and flags 0 (memcached's item_size_ok), one byte more, and non-zero flags (4 bytes more).
    step(set(OP.set, 'f', Buffer.alloc(1_048_516, 0x62)), set(OP.set, 'o', Buffer.alloc(1_048_517, 0x62)), set(OP.set, 'g', Buffer.alloc(1_048_516, 0x62), 1), set(OP.set, 'h', Buffer.alloc(1_048_512, 0x62), 1)),
    step(set(OP.set, '\x00 \r\n\x80\xff', Buffer.from([0, 0x80, 0x0d, 0x0a, 0xff]), 9), f(OP.getk, { key: '\x00 \r\n\x80\xff' }), set(OP.set, 'k'.repeat(250), 'v'), f(OP.getk, { key: 'k'.repeat(250) })),
  ] },
  { name: 'quit', steps: [step(set(OP.setq, 'k', 'v')), closing(f(OP.quit, { opaque: 9 }), f(OP.noop))] },
  { name: 'quitq', steps: [closing(f(OP.quitq), f(OP.noop))] },
  { name: 'key over 250 bytes', steps: [step(f(OP.noop)), closing(f(OP.get, { key: 'k'.repeat(251), opaque: 1 }), f(OP.noop))] },
  { name: 'bad magic', steps: [step(f(OP.noop)), closing(f(OP.noop, { magic: 0x81 }), f(OP.noop))] },
  { name: 'key length above body length', steps: [closing(f(OP.get, { key: 'abc', bodyLength: 2, opaque: 1 }), f(OP.noop))] },
  { name: 'get with extras', steps: [closing(f(OP.get, { key: 'abc', extras: u32s(1) }), f(OP.noop))] },
  { name: 'flush with 8 bytes of extras', steps: [closing(f(OP.flush, { extras: storeExtras() }), f(OP.noop))] },
  { name: 'set with 4 bytes of extras', steps: [closing(f(OP.set, { key: 'k', extras: u32s(1), value: 'v' }), f(OP.noop))] },
];

/** Replies of one session, normalised; `closed` says whether the server closed the connection. */
async function runSession(port: number, steps: Step[]): Promise<{ lines: string[]; closed: boolean }> {
  const conn = await BinaryConnection.open(port);
  const seen: Seen = { lastCas: 0n };
  const casNames = new Map<bigint, string>();
  const lines: string[] = [];
  try {
    conn.send(f(OP.flushq));
    for (const s of steps) {
      const frames = s.frames(seen);
      conn.send(s.closes ? Buffer.concat(frames) : Buffer.concat([...frames, marker]));
      const packets = await conn.until((ps) => !s.closes && ps.some((p) => p.opcode === OP.noop && p.opaque === MARKER_OPAQUE));
      conn.consume(packets);
      for (const p of packets) {
        if (p.cas !== 0n) seen.lastCas = p.cas;
        const line = normalise(p, casNames);
        if (line !== null) lines.push(line);
      }
      if (s.closes) expect(conn.closed, 'the server closes the connection').toBe(true);
    }
    return { lines, closed: conn.closed };
  } finally {
    conn.close();
  }
}

function normalise(p: Packet, casNames: Map<bigint, string>): string | null {
  // A stat group's packets: our counters differ; the end packet (empty key) and errors are compared.
  if (p.opcode === OP.stat && p.status === 0 && p.key !== '') return null;
  if (p.cas !== 0n && !casNames.has(p.cas)) casNames.set(p.cas, `#${casNames.size + 1}`);
  const cas = p.cas === 0n ? '0' : casNames.get(p.cas)!;
  const q = { ...p, cas: 0n, value: p.opcode === OP.version && p.status === 0 ? Buffer.from('<version>') : p.value };
  return describePacket(q).replace(/ cas=0/, ` cas=${cas}`);
}

// ---- a real memcached -----------------------------------------------------------

let memcached: Daemon;
let ours: ServerProcess;

beforeAll(async () => {
  memcached = await startMemcached();
  ours = await startServer();
}, 30_000);

afterAll(stopDaemons);

describe('binary protocol: byte-identical to memcached 1.6.18', () => {
  for (const session of sessions) {
    it(session.name, async () => {
      const theirs = await runSession(memcached.port, session.steps);
      const mine = await runSession(ours.port, session.steps);
      expect(mine.lines).toEqual(theirs.lines);
      expect(mine.closed).toBe(theirs.closed);
      expect(theirs.lines.length + (theirs.closed ? 1 : 0)).toBeGreaterThan(0);
    });
  }
});

describe('binary protocol: durability', () => {
  it('data written over the binary protocol survives kill -9 and a restart, with flags and CAS', async () => {
    const server = await startServer();
    const c = await BinaryConnection.open(server.port);
    c.send(Buffer.concat([
      set(OP.set, 'plain', 'value', 42), set(OP.setq, 'quiet', 'q', 1), set(OP.addq, 'added', 'a'),
      delta(OP.incrq, 'counter', 5n, 100n), delta(OP.incrq, 'counter', 5n), f(OP.appendq, { key: 'plain', value: '+tail' }),
      set(OP.setq, 'gone', 'x'), f(OP.deleteq, { key: 'gone' }), f(OP.touch, { key: 'quiet', extras: u32s(3600) }),
      f(OP.getk, { key: 'plain' }), f(OP.getk, { key: 'quiet' }), f(OP.getk, { key: 'added' }), f(OP.getk, { key: 'counter' }), marker,
    ]));
    const before = (await c.until((ps) => ps.some((p) => p.opaque === MARKER_OPAQUE))).filter((p) => p.opcode === OP.getk);
    c.close();
    expect(before.map((p) => [p.key, p.value.toString(), p.extras.readUInt32BE(0)])).toEqual([['plain', 'value+tail', 42], ['quiet', 'q', 1], ['added', 'a', 0], ['counter', '105', 0]]);
    await server.kill9();

    const restarted = await startServer({ dataDir: server.dataDir });
    const r = await BinaryConnection.open(restarted.port);
    r.send(Buffer.concat([...['plain', 'quiet', 'added', 'counter', 'gone'].map((key) => f(OP.getk, { key })), marker]));
    const after = (await r.until((ps) => ps.some((p) => p.opaque === MARKER_OPAQUE))).filter((p) => p.opcode === OP.getk);
    r.close();
    expect(after.map(describePacket)).toEqual([...before.map(describePacket), 'op=0xc status=0x1 opaque=0 cas=0 key="gone"']);
    expect(await restarted.stop()).toBe(0);
  });
});
