// Progress of a `mcl bench` run on stderr: on a terminal, one bar redrawn in
// place (at most ten times a second); elsewhere (a pipe, a log file, a test),
// one line when a step starts, so logs stay short.
//
// Invariants: nothing is written to stdout (the summary goes there); a step
// that ends leaves its line complete (newline-terminated) on a terminal too.

const bar_width = 28;
const redraw_interval_ms = 100;

export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

export class Progress {
  private label = '';
  private total = 1;
  private done = 0;
  private lastDraw = 0;
  private active = false;
  private step = 0;

  /**
   * @param steps how many steps the whole run has (shown as "[3/40]")
   */
  constructor(
    private readonly sink: ProgressSink | null,
    private readonly steps: number,
  ) {}

  /** Starts a step of `total` units (requests, or milliseconds of a timed run). */
  begin(label: string, total: number): void {
    this.end();
    this.step++;
    this.label = label;
    this.total = Math.max(1, total);
    this.done = 0;
    this.active = true;
    if (!this.sink) return;
    if (this.sink.isTTY) this.draw();
    else this.sink.write(`mcl bench: [${this.step}/${this.steps}] ${label}\n`);
  }

  /** Sets how many units of the current step are done. */
  update(done: number): void {
    this.done = Math.min(this.total, done);
    if (!this.sink?.isTTY || !this.active) return;
    const now = Date.now();
    if (now - this.lastDraw >= redraw_interval_ms) this.draw();
  }

  end(): void {
    if (!this.active) return;
    this.active = false;
    if (!this.sink?.isTTY) return;
    this.done = this.total;
    this.draw();
    this.sink.write('\n');
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const fraction = this.done / this.total;
    const filled = Math.round(fraction * bar_width);
    const bar = '#'.repeat(filled) + '-'.repeat(bar_width - filled);
    this.sink!.write(`\r\x1b[K[${this.step}/${this.steps}] [${bar}] ${String(Math.floor(fraction * 100)).padStart(3)}% ${this.label}`);
  }
}
