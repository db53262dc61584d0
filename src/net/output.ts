// Reply bytes under construction. Small values are folded into one latin1
// string with the surrounding protocol text, so a typical pipelined batch of
// replies leaves as a single socket write; large values stay separate Buffers
// and are never copied.

const inline_value_max_bytes = 1024;

export class Chunks {
  parts: Array<string | Buffer> = [];
  private text = '';
  private size = 0;

  addText(s: string): void {
    this.text += s;
    this.size += s.length;
  }

  addValue(b: Buffer): void {
    if (b.length <= inline_value_max_bytes) {
      this.text += b.toString('latin1');
    } else {
      this.seal();
      this.parts.push(b);
    }
    this.size += b.length;
  }

  get bytes(): number { return this.size; }
  get isEmpty(): boolean { return this.size === 0; }

  /** Moves everything into `other`, leaving this empty. */
  moveTo(other: Chunks): void {
    if (this.parts.length) {
      other.seal();
      for (const p of this.parts) other.parts.push(p);
      this.parts = [];
    }
    other.text += this.text;
    other.size += this.size;
    this.text = '';
    this.size = 0;
  }

  /** The finished parts; this becomes empty. */
  take(): Array<string | Buffer> {
    this.seal();
    const parts = this.parts;
    this.parts = [];
    this.size = 0;
    return parts;
  }

  private seal(): void {
    if (this.text) {
      this.parts.push(this.text);
      this.text = '';
    }
  }
}
