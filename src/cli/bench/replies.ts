// Incremental reader of the memcached text replies `mcl bench` waits for: it
// is fed socket chunks and reports one outcome per expected reply, in order.
//
// Expected replies (pushed with expect() as requests are sent):
//   'stored'  one line; STORED is ok, any other line an error
//   'get'     END is a miss; VALUE <key> <flags> <bytes> [<cas>], the data
//             block and END is ok; any other line an error
//   'version' the reply to the `version` sent after a noreply SET: lines up to
//             and including VERSION ...; a line before it (an error the noreply
//             SET produced anyway) makes the outcome an error
// A line that arrives while nothing is expected is counted as 'unexpected'.
//
// Invariants: bytes are consumed exactly once, whatever the chunk boundaries
// (a partial line or data block is kept and completed by later chunks); the
// reader keeps no view of a chunk after feed() returns, only copies.

export type Expect = 'stored' | 'get' | 'version';
export type Outcome = 'ok' | 'miss' | 'error' | 'unexpected';

const newline = 0x0a; // lines end at \n; the \r before it is dropped

export class ReplyReader {
  private readonly queue: Expect[] = [];
  private head = 0;
  private pending: Buffer | null = null;
  /** Data-block bytes (with their \r\n) still to skip, or -1 outside a block. */
  private skip = -1;
  /** How far the current reply got: a get's VALUE header, or an error line before VERSION. */
  private seen: 'nothing' | 'value' | 'error' = 'nothing';

  constructor(private readonly onReply: (outcome: Outcome) => void) {}

  expect(kind: Expect): void {
    this.queue.push(kind);
  }

  /** Replies expected and not yet complete. */
  get outstanding(): number {
    return this.queue.length - this.head;
  }

  feed(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    let pos = 0;
    while (pos < buf.length) {
      if (this.skip >= 0) {
        const n = Math.min(this.skip, buf.length - pos);
        pos += n;
        this.skip -= n;
        if (this.skip > 0) return;
        this.skip = -1;
        continue;
      }
      const nl = buf.indexOf(newline, pos);
      if (nl < 0) break;
      const end = nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl;
      this.line(buf.toString('latin1', pos, end));
      pos = nl + 1;
    }
    if (pos < buf.length) this.pending = Buffer.from(buf.subarray(pos));
  }

  private line(text: string): void {
    const kind = this.queue[this.head];
    if (kind === undefined) return this.onReply('unexpected');
    if (kind === 'stored') return this.complete(text === 'STORED' ? 'ok' : 'error');
    if (kind === 'version') {
      if (!text.startsWith('VERSION ')) {
        this.seen = 'error';
        return;
      }
      return this.complete(this.seen === 'error' ? 'error' : 'ok');
    }
    this.getLine(text);
  }

  /** A line of a single-key get reply: VALUE header, then END. */
  private getLine(text: string): void {
    if (text === 'END') return this.complete(this.seen === 'value' ? 'ok' : 'miss');
    const bytes = text.startsWith('VALUE ') && this.seen === 'nothing' ? Number(text.split(' ')[3]) : NaN;
    if (!Number.isSafeInteger(bytes) || bytes < 0) return this.complete('error');
    this.seen = 'value';
    this.skip = bytes + 2;
  }

  private complete(outcome: Outcome): void {
    this.seen = 'nothing';
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.onReply(outcome);
  }
}
