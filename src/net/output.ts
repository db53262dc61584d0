// Reply bytes under construction. Pieces (protocol text and values) are only
// listed while replies are built; take() lays them out in as few Buffers as
// possible: consecutive small pieces are copied into one Buffer, so a typical
// batch of pipelined replies leaves as a single socket write, while large
// values stay separate Buffers and are never copied.

/** Values above this are written as their own Buffer instead of being copied. */
const copy_value_max_bytes = 16 * 1024;

type Piece = string | Buffer;

export class Chunks {
  private pieces: Piece[] = [];
  private size = 0;

  addText(s: string): void {
    this.pieces.push(s);
    this.size += s.length;
  }

  addValue(b: Buffer): void {
    this.pieces.push(b);
    this.size += b.length;
  }

  get bytes(): number { return this.size; }
  get isEmpty(): boolean { return this.size === 0; }

  /** Moves everything into `other`, leaving this empty. */
  moveTo(other: Chunks): void {
    if (other.pieces.length === 0) {
      const swap = other.pieces;
      other.pieces = this.pieces;
      this.pieces = swap;
    } else {
      for (const p of this.pieces) other.pieces.push(p);
      this.pieces.length = 0;
    }
    other.size += this.size;
    this.size = 0;
  }

  /** The bytes as Buffers (text is latin1); this becomes empty. */
  take(): Buffer[] {
    const pieces = this.pieces;
    const size = this.size;
    this.pieces = [];
    this.size = 0;
    let bigValues = false;
    for (const p of pieces) if (typeof p !== 'string' && p.length > copy_value_max_bytes) { bigValues = true; break; }
    if (!bigValues) return size ? [pack(pieces, 0, pieces.length, size)] : [];
    // Runs of small pieces are packed; large values go out as they are.
    const out: Buffer[] = [];
    let runStart = 0;
    let runBytes = 0;
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!;
      if (typeof p !== 'string' && p.length > copy_value_max_bytes) {
        if (runBytes) out.push(pack(pieces, runStart, i, runBytes));
        out.push(p);
        runStart = i + 1;
        runBytes = 0;
      } else {
        runBytes += p.length;
      }
    }
    if (runBytes) out.push(pack(pieces, runStart, pieces.length, runBytes));
    return out;
  }
}

/** Strings shorter than this are copied by a JS loop: cheaper than a call into C++. */
const js_copy_max_chars = 128;

/** pieces[from, to) laid out in one Buffer of `bytes` bytes. */
function pack(pieces: Piece[], from: number, to: number, bytes: number): Buffer {
  if (to - from === 1 && typeof pieces[from] !== 'string') return pieces[from] as Buffer;
  const buf = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (let k = from; k < to; k++) {
    const p = pieces[k]!;
    if (typeof p !== 'string') at += p.copy(buf, at);
    else if (p.length >= js_copy_max_chars) at += buf.write(p, at, 'latin1');
    else for (let i = 0; i < p.length; i++) buf[at++] = p.charCodeAt(i);
  }
  return buf;
}
