// The login gate in front of the text protocol when -Y/--auth-file is set:
// memcached's try_read_command_asciiauth (proto_text.c). Until a connection
// logs in, it may only send a `set` whose data block is `user password`
// (key, flags and exptime are ignored); the gate answers everything else
// itself and hands the connection's bytes to the text protocol once a login
// succeeds.
//
// Replies, in memcached's words:
// - a line that is not `set <key> <flags> <exptime> <bytes> ...` with a valid
//   <bytes>: CLIENT_ERROR unauthenticated (the line is consumed, no data read);
// - a data block not ending in "\r\n": CLIENT_ERROR bad command line termination;
// - data with fewer than two tokens: CLIENT_ERROR bad authentication token format;
// - a wrong user or password (never saying which): CLIENT_ERROR authentication failure;
// - a good login: STORED (noreply is ignored, as memcached does).
//
// Invariants:
// - the login never reaches the engine: it is not stored, not logged to the
//   WAL, and not counted as a set (it counts in auth_cmds / auth_errors);
// - before login, memory is bounded: a line without '\n' after 2048 bytes
//   closes the connection (as memcached), and so does a login block larger
//   than memcached's 16 KB read buffer (memcached closes once it overflows);
// - every request is answered (memcached, pipelined, keeps only the last
//   reply of a read during login: a bug not copied here).

import { line_length_max } from '../engine/limits.js';
import { safeStrtoul } from '../engine/cnumbers.js';
import type { Credentials } from './auth.js';
import { tokenize } from './tokens.js';
import type { Protocol, ReplySink, ServerContext } from './protocol.js';

/** memcached's READ_BUFFER_SIZE: a login block that does not fit closes the connection. */
export const auth_block_max_bytes = 16 * 1024;

export const unauthenticated_reply = 'CLIENT_ERROR unauthenticated';
export const bad_termination_reply = 'CLIENT_ERROR bad command line termination';
export const bad_token_format_reply = 'CLIENT_ERROR bad authentication token format';
export const auth_failure_reply = 'CLIENT_ERROR authentication failure';

type Step =
  | { kind: 'reply'; line: string }
  | { kind: 'login'; user: Buffer; password: Buffer }
  | { kind: 'close'; reason: string };

/** A request the gate answers itself (told apart from the text protocol's by class). */
export class AuthStep {
  constructor(readonly step: Step) {}
}

const empty = Buffer.alloc(0);

export class AuthGate implements Protocol<unknown> {
  private authenticated = false;
  private closed = false;
  /** Bytes received and not yet parsed (an own copy: the gate is off the fast path). */
  private pending: Buffer = empty;
  /** Size of the login data block awaited (data + "\r\n"), or 0 while reading a line. */
  private blockBytes = 0;

  constructor(private readonly ctx: ServerContext, private readonly credentials: Credentials, private readonly inner: Protocol) {}

  push(chunk: Buffer): void {
    if (this.authenticated) this.inner.push(chunk);
    else if (!this.closed) this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
  }

  detachInput(): void {
    if (this.authenticated) this.inner.detachInput();
  }

  next(): unknown {
    if (this.authenticated) return this.inner.next();
    if (this.closed) return null;
    return this.blockBytes ? this.readBlock() : this.readLine();
  }

  isMutation(request: unknown): boolean {
    return !(request instanceof AuthStep) && this.inner.isMutation(request);
  }

  execute(request: unknown, out: ReplySink): void {
    if (request instanceof AuthStep) this.answer(request.step, out);
    else this.inner.execute(request, out);
  }

  refuseDiskFull(request: unknown, out: ReplySink): void {
    this.inner.refuseDiskFull(request, out);
  }

  dataState(): 'conn_nread' | 'conn_swallow' | null {
    if (this.authenticated) return this.inner.dataState?.() ?? null;
    return this.blockBytes ? 'conn_nread' : null;
  }

  /** The login line: `set <key> <flags> <exptime> <bytes> ...`. */
  private readLine(): AuthStep | null {
    const nl = this.pending.indexOf(0x0a);
    if (nl < 0) return this.pending.length > line_length_max ? this.close('line too long before login') : null;
    const line = this.take(nl + 1).subarray(0, nl);
    const t = tokenize(line, 0, line.length);
    const isSet = t.count >= 5 && line.toString('latin1', t.starts[0], t.ends[0]) === 'set';
    const size = isSet ? safeStrtoul(line, t.starts[4], t.ends[4]) : null;
    if (size === null) return reply(unauthenticated_reply);
    if (size + 2 > auth_block_max_bytes) return this.close('login data too large');
    this.blockBytes = size + 2;
    return this.readBlock();
  }

  /** The login data: `user password` and "\r\n". */
  private readBlock(): AuthStep | null {
    const n = this.blockBytes;
    if (this.pending.length < n) return null;
    const block = this.take(n);
    this.blockBytes = 0;
    if (block[n - 2] !== 0x0d || block[n - 1] !== 0x0a) return reply(bad_termination_reply);
    const t = tokenize(block, 0, n - 2);
    if (t.count < 2) return reply(bad_token_format_reply);
    return new AuthStep({
      kind: 'login',
      user: block.subarray(t.starts[0], t.ends[0]),
      password: block.subarray(t.starts[1], t.ends[1]),
    });
  }

  private take(bytes: number): Buffer {
    const head = this.pending.subarray(0, bytes);
    this.pending = this.pending.subarray(bytes);
    return head;
  }

  private close(reason: string): AuthStep {
    this.closed = true;
    this.pending = empty;
    return new AuthStep({ kind: 'close', reason });
  }

  private answer(step: Step, out: ReplySink): void {
    switch (step.kind) {
      case 'reply':
        out.reply.addText(`${step.line}\r\n`);
        return out.commit(0);
      case 'close':
        this.ctx.log(1, `closing connection: ${step.reason}`);
        return out.commit(0, true);
      case 'login':
        return this.login(step.user, step.password, out);
    }
  }

  private login(user: Buffer, password: Buffer, out: ReplySink): void {
    if (!this.credentials.check(user, password)) {
      out.reply.addText(`${auth_failure_reply}\r\n`);
      return out.commit(0);
    }
    out.reply.addText('STORED\r\n');
    out.commit(0);
    this.authenticated = true;
    const rest = this.pending;
    this.pending = empty;
    if (rest.length) this.inner.push(rest);
  }
}

const reply = (line: string): AuthStep => new AuthStep({ kind: 'reply', line });
