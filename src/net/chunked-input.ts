// The input side both protocol parsers share: the socket chunk being parsed
// and the position in it.
//
// Invariant (fast-read.ts reads every connection into one shared buffer): a
// pushed chunk is only valid until detachInput(), which copies whatever of it
// is still unparsed, so a parser never keeps a view of socket memory across
// reads. Everything else a parser keeps must already be its own copy.

export const empty_buffer = Buffer.alloc(0);

export abstract class ChunkedInput {
  protected buf: Buffer = empty_buffer;
  protected pos = 0;

  /** Once true, pushed bytes are dropped (the parser closed the connection). */
  protected abstract get inputClosed(): boolean;

  push(chunk: Buffer): void {
    if (this.inputClosed) return;
    // An unparsed rest is only left when the caller pushes before draining the parser; keep it correct.
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
  }

  /** Copies the unconsumed part of the last pushed chunk, so the caller may reuse that chunk's memory. */
  detachInput(): void {
    this.buf = this.pos < this.buf.length ? Buffer.from(this.buf.subarray(this.pos)) : empty_buffer;
    this.pos = 0;
  }
}
