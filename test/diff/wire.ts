// The differential test's wire side: starts a real memcached on a free
// loopback port, and plays one Sequence on a fresh connection to a server.
//
// A sequence is cut into segments before each command that must wait for
// every earlier reply (commands.ts startsSegment). Each segment but a 'fin'
// last one is followed by a pad and a sentinel:
// - the pad, "\r\n" + pad_bytes spaces + "\r\n", completes whatever the
//   segment left open (a line without its end, a data block, a swallow of a
//   too-large value): commands.ts bounds every length a server can read;
// - the sentinel stores and reads a key no command uses, and its reply is the
//   end of the segment's replies: a byte string no other command answers.
// A 'fin' sequence half-closes after its last segment's pad instead, and the
// replies end when the server closes the connection. The pad comes first
// because memcached, reaching the end of the stream inside a data block or a
// swallow, closes without the replies of its read batch it has not written
// (conn_nread and conn_swallow do not flush them); we send every reply owed.
// What memcached sends there depends on how TCP cut the stream.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { item_size_max_bytes, pad_bytes, renderCommand, startsSegment, type Command, type Sequence } from './commands.js';
import { casValues, parseReplies } from './replies.js';
import { freePort, waitListening } from '../e2e/daemons.js';
import type { RawConnection } from '../e2e/raw.js';

/** How a segment's replies ended. */
export type SegmentEnd = 'sentinel' | 'closed' | 'timeout';

export interface SegmentResult {
  /** Reply bytes (latin1), the pad's and the sentinel's included. */
  replies: string;
  end: SegmentEnd;
}

/** Segment replies must end within this time (a server that hangs fails, it does not stall the run). */
const segment_timeout_ms = 3000;

const pad = `\r\n${' '.repeat(pad_bytes)}\r\n`;

function sentinel(runId: number, segment: number): { request: string; reply: string } {
  const key = `zz:sentinel:${runId}:${segment}`;
  const value = `s${runId}.${segment}`;
  return {
    request: `set ${key} 0 0 ${value.length}\r\n${value}\r\nget ${key}\r\n`,
    reply: `VALUE ${key} 0 ${value.length}\r\n${value}\r\nEND\r\n`,
  };
}

/** Cuts before every command that starts a segment (except the first). */
export function segments(commands: readonly Command[]): Command[][] {
  const out: Command[][] = [[]];
  for (const c of commands) {
    if (startsSegment(c) && out[out.length - 1]!.length > 0) out.push([]);
    out[out.length - 1]!.push(c);
  }
  return out;
}

/** A client socket collecting everything it receives. */
class Collector {
  received = '';
  closed = false;
  private wake: (() => void) | null = null;

  constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => { this.received += d.toString('latin1'); this.notify(); });
    socket.on('close', () => { this.closed = true; this.notify(); });
    socket.on('error', () => {});
  }

  /** Waits until `done()` holds or the connection closed; false on timeout. */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!done() && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((res) => {
        const timer = setTimeout(res, left);
        this.wake = () => { clearTimeout(timer); res(); };
      });
      this.wake = null;
    }
    return true;
  }

  private notify(): void { this.wake?.(); }
}

function open(port: number): Promise<Collector> {
  return new Promise((res, rej) => {
    const s = connect({ host: '127.0.0.1', port }, () => res(new Collector(s)));
    s.once('error', rej);
  });
}

/** Plays `seq` on a fresh connection to 127.0.0.1:port. */
export async function playSequence(port: number, seq: Sequence, runId: number): Promise<SegmentResult[]> {
  const conn = await open(port);
  const results: SegmentResult[] = [];
  try {
    const parts = segments(seq.commands);
    for (let i = 0; i < parts.length && !conn.closed; i++) {
      const start = conn.received.length;
      const ctx = { casSeen: casValues(parseReplies(conn.received)), nowSeconds: Math.floor(Date.now() / 1000) };
      const bytes = parts[i]!.map((c) => renderCommand(c, ctx)).join('');
      const fin = i === parts.length - 1 && seq.finish === 'fin';
      let end: SegmentEnd;
      if (fin) {
        conn.socket.end(Buffer.from(bytes + pad, 'latin1'));
        end = (await conn.until(() => false, segment_timeout_ms)) ? 'closed' : 'timeout';
      } else {
        const s = sentinel(runId, i);
        conn.socket.write(Buffer.from(bytes + pad + s.request, 'latin1'));
        const done = () => conn.received.endsWith(s.reply);
        end = !(await conn.until(done, segment_timeout_ms)) ? 'timeout' : done() ? 'sentinel' : 'closed';
      }
      results.push({ replies: conn.received.slice(start), end });
    }
  } finally {
    conn.socket.destroy();
  }
  return results;
}

// ---- a real memcached --------------------------------------------------------------

/**
 * After a flush_all, has memcached unlink the items it only marked as
 * flushed (its LRU crawler reclaims them), and waits until none is left:
 * a later delayed flush_all would otherwise bring them back (commands.ts).
 */
export async function reclaimFlushed(ctl: RawConnection): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    ctl.send('lru_crawler crawl all\r\nstats\r\n');
    const crawl = await ctl.line();
    let items = -1;
    for (let line = await ctl.line(); line !== 'END'; line = await ctl.line()) {
      if (line.startsWith('STAT curr_items ')) items = Number(line.slice(16));
    }
    if (items === 0) return;
    if (crawl !== 'OK' && !crawl.startsWith('BUSY')) throw new Error(`lru_crawler crawl all: ${crawl}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('memcached did not reclaim flushed items within 1 s');
}

export const memcachedBin = process.env.MEMCACHED_BIN ?? '/usr/bin/memcached';

export interface Memcached { port: number; pid: number; stop(): Promise<void> }

/**
 * Starts memcached on 127.0.0.1 only, no UDP, with -I as our server gets it
 * (-I 1k needs slab_chunk_max no larger than it). A port taken between the
 * probe and the bind is retried.
 */
export async function startMemcached(): Promise<Memcached> {
  if (!existsSync(memcachedBin)) throw new Error(`memcached not found at ${memcachedBin}: install it (apt-get install memcached) or set MEMCACHED_BIN`);
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const args = ['-U', '0', '-l', '127.0.0.1', '-p', String(port), '-m', '64', '-I', String(item_size_max_bytes), '-o', `slab_chunk_max=${item_size_max_bytes}`];
    if (process.getuid?.() === 0) args.push('-u', 'root');
    const proc = spawn(memcachedBin, args, { stdio: 'ignore' });
    // Should the test process end without afterAll, memcached ends with it.
    const killOnExit = (): void => { proc.kill('SIGKILL'); };
    process.once('exit', killOnExit);
    const exited = new Promise<void>((res) => proc.once('exit', () => { process.off('exit', killOnExit); res(); }));
    const alive = (): boolean => proc.exitCode === null && proc.signalCode === null;
    if (await waitListening(port, alive, memcachedBin).then(() => true, () => false)) {
      return {
        port, pid: proc.pid!,
        async stop() {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
          await exited;
        },
      };
    }
    proc.kill('SIGKILL');
    await exited;
  }
  throw new Error('memcached did not start (5 attempts)');
}
