// The progress display of mcl bench (src/cli/bench/progress.ts): a redrawn
// bar on a terminal, one line per step elsewhere, nothing when disabled.

import { describe, expect, it, vi } from 'vitest';
import { Progress } from '../../../src/cli/bench/progress.js';

function sink(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, sink: { isTTY, write: (t: string) => writes.push(t) } };
}

describe('Progress', () => {
  it('writes one line per step when stderr is not a terminal', () => {
    const s = sink(false);
    const p = new Progress(s.sink, 2);
    p.begin('first', 10);
    p.update(5);
    p.begin('second', 10);
    p.end();
    expect(s.writes).toEqual(['mcl bench: [1/2] first\n', 'mcl bench: [2/2] second\n']);
  });

  it('redraws a bar in place on a terminal, at most every 100 ms, and ends each step with a full bar and a newline', () => {
    vi.useFakeTimers();
    try {
      const s = sink(true);
      const p = new Progress(s.sink, 1);
      p.begin('load', 4);
      p.update(1); // within 100 ms of the first draw: not drawn
      vi.advanceTimersByTime(150);
      p.update(2);
      p.end();
      expect(s.writes).toHaveLength(4);
      expect(s.writes[0]).toBe(`\r\x1b[K[1/1] [${'-'.repeat(28)}]   0% load`);
      expect(s.writes[1]).toBe(`\r\x1b[K[1/1] [${'#'.repeat(14)}${'-'.repeat(14)}]  50% load`);
      expect(s.writes[2]).toBe(`\r\x1b[K[1/1] [${'#'.repeat(28)}] 100% load`);
      expect(s.writes[3]).toBe('\n');
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes nothing without a sink (--no-progress)', () => {
    const p = new Progress(null, 3);
    expect(() => { p.begin('x', 1); p.update(1); p.end(); }).not.toThrow();
  });
});
