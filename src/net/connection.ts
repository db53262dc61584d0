// One client connection: read requests, run them through the connection's
// protocol (text or binary, chosen by the first byte; protocol.ts), and send
// the replies in request order, each only once the WAL position it reflects
// is acknowledged (the visibility contract: no reply shows a write that is
// not yet durable).
//
// Invariants:
// - replies leave in request order; a ready reply never overtakes a waiting one;
// - a mutation runs only when the WAL admits it: on 'wait' the connection
//   stops parsing until the backlog drains; on 'full' it is refused, unapplied;
// - reading pauses while unsent reply bytes exceed the high-water mark
//   (backpressure), and resumes when the socket drains or replies are released;
// - a client's FIN (half-close) still gets every reply owed, then the close;
// - lastCmdMs is when the connection last sent a request (memcached's
//   last_cmd_time): `stats conns` shows it and the idle timeout reads it; a
//   half-closed connection is finishing, never idle.

import type { Socket } from 'node:net';
import { Chunks } from './output.js';
import type { Protocol, ReplySink, ServerContext } from './protocol.js';
import { createProtocol } from './protocols.js';

/** Unsent reply bytes above which we stop reading from a connection. */
export const reply_backlog_high_bytes = 4 * 1024 * 1024;

export interface ConnectionContext extends ServerContext {
  /** Connections holding replies until the WAL acknowledges them. */
  readonly waiting: Set<Connection>;
}

interface Held { chunks: Chunks; seq: number; closeAfter: boolean }

export class Connection implements ReplySink {
  readonly reply = new Chunks();
  private protocol: Protocol | null = null;
  private readonly ready = new Chunks();
  private held: Held[] = [];
  private heldBytes = 0;
  private stalled: unknown = null;
  private closeAfterWrite = false;
  private ended = false;
  /** The client sent FIN: no more requests will come. */
  private inputEnded = false;
  private readPaused = false;
  private isWaiting = false;
  /** A request of this connection is running (memcached's conn_parse_cmd). */
  private executing = false;
  /** When the last request was read (ms since the epoch). */
  lastCmdMs: number;

  private socket!: Socket;

  constructor(private readonly ctx: ConnectionContext) {
    this.lastCmdMs = ctx.backend.now();
  }

  /** Binds the socket; its bytes arrive through receive(). */
  attach(socket: Socket): void {
    this.socket = socket;
    socket.on('drain', () => this.maybeResume());
  }

  /** Called when the WAL acknowledged more: release what is now durable. */
  release(): void {
    this.flush();
    this.maybeResume();
  }

  /** The client half-closed (FIN): answer what it sent, then close. */
  endOfInput(): void {
    this.inputEnded = true;
    if (this.ended) return;
    if (this.protocol) this.process();
    else this.end();
  }

  /** Bytes from the socket. The chunk may be reused after this returns: nothing may keep a view of it. */
  receive(chunk: Buffer): void {
    if (this.ended) return;
    this.ctx.counters.bytesRead += chunk.length;
    if (!this.protocol) {
      this.protocol = createProtocol(chunk[0]!, this.ctx);
      if (!this.protocol) {
        this.destroy();
        return;
      }
    }
    this.protocol.push(chunk);
    this.process();
    this.protocol.detachInput();
  }

  private process(): void {
    const protocol = this.protocol!;
    let first = true;
    while (!this.ended && this.stalled === null && !this.closeAfterWrite) {
      if (this.backlogBytes() > reply_backlog_high_bytes) {
        this.pauseReading();
        break;
      }
      const request = protocol.next();
      if (request === null) {
        // The client half-closed and everything it sent is answered: close
        // after those replies (ordered behind any still held), as memcached does.
        if (this.inputEnded) this.commit(0, true);
        break;
      }
      if (first) {
        // Once per batch of requests: memcached's last_cmd_time is as coarse (one-second clock).
        this.lastCmdMs = this.ctx.backend.now();
        first = false;
      }
      if (protocol.isMutation(request)) {
        const admission = this.ctx.backend.writeAdmission();
        if (admission === 'wait') {
          this.stall(request);
          break;
        }
        if (admission === 'full') {
          protocol.refuseDiskFull(request, this);
          continue;
        }
      }
      this.execute(request);
    }
    this.flush();
  }

  private execute(request: unknown): void {
    this.executing = true;
    this.protocol!.execute(request, this);
    this.executing = false;
  }

  private stall(request: unknown): void {
    this.stalled = request;
    this.pauseReading();
    void this.ctx.backend.whenAdmissible().then(() => {
      const r = this.stalled;
      this.stalled = null;
      if (r === null || this.ended) return;
      const protocol = this.protocol!;
      if (this.ctx.backend.writeAdmission() === 'full') protocol.refuseDiskFull(r, this);
      else this.execute(r);
      this.process();
      this.maybeResume();
    });
  }

  /** Ends the current reply: ready now if nothing waits before it and `seq` is acknowledged. */
  commit(seq: number, closeAfter = false): void {
    if (!this.held.length && !closeAfter && seq <= this.ctx.backend.ackedSeq()) {
      this.reply.moveTo(this.ready);
      return;
    }
    const chunks = new Chunks();
    this.reply.moveTo(chunks);
    this.held.push({ chunks, seq, closeAfter });
    this.heldBytes += chunks.bytes;
    if (closeAfter) this.closeAfterWrite = true;
  }

  private flush(): void {
    const acked = this.ctx.backend.ackedSeq();
    let close = false;
    while (this.held.length && this.held[0]!.seq <= acked) {
      const h = this.held.shift()!;
      this.heldBytes -= h.chunks.bytes;
      h.chunks.moveTo(this.ready);
      if (h.closeAfter) { close = true; break; }
    }
    this.setWaiting(this.held.length > 0 && !close);
    if (!this.ready.isEmpty) this.write(this.ready.take());
    if (close) this.end();
  }

  private write(parts: Buffer[]): void {
    if (this.ended) return;
    const socket = this.socket;
    if (parts.length > 1) socket.cork();
    for (const p of parts) {
      this.ctx.counters.bytesWritten += p.length;
      socket.write(p);
    }
    if (parts.length > 1) socket.uncork();
  }

  private backlogBytes(): number {
    return this.socket.writableLength + this.heldBytes;
  }

  private pauseReading(): void {
    if (!this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  private maybeResume(): void {
    if (this.ended || this.stalled !== null) return;
    if (this.readPaused && this.backlogBytes() <= reply_backlog_high_bytes / 2) {
      this.readPaused = false;
      this.socket.resume();
      this.process();
    }
  }

  /** Registers for WAL acknowledgements only while replies are held (kept cheap: no Set op per flush). */
  private setWaiting(waiting: boolean): void {
    if (waiting === this.isWaiting) return;
    this.isWaiting = waiting;
    if (waiting) this.ctx.waiting.add(this);
    else this.ctx.waiting.delete(this);
  }

  private end(): void {
    this.ended = true;
    this.setWaiting(false);
    this.socket.end();
  }

  destroy(): void {
    this.ended = true;
    this.setWaiting(false);
    this.socket.destroy();
  }

  /** memcached's name for what the connection is doing, for `stats conns`. */
  get state(): string {
    if (this.executing) return 'conn_parse_cmd';
    if (this.ended) return 'conn_closing';
    if (this.stalled !== null) return 'conn_waiting'; // ours: a write waits for WAL admission
    if (this.held.length || this.socket.writableLength) return 'conn_mwrite';
    return this.protocol?.dataState?.() ?? 'conn_read';
  }

  /**
   * Idle: waiting for a request (not for the WAL to acknowledge its replies,
   * nor for the client to read them, nor inside a value still arriving, as
   * memcached) and none read since cutoffMs. A half-closed connection is not
   * idle: it sends no more requests and closes once its replies are out.
   */
  isIdleSince(cutoffMs: number): boolean {
    return !this.inputEnded && this.lastCmdMs < cutoffMs && this.state === 'conn_read';
  }

  /** At shutdown: no more requests are read; owed replies are still released. */
  stopReading(): void {
    this.closeAfterWrite = true;
    this.pauseReading();
  }

}
