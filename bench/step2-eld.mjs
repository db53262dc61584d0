// bench/step2-eld.mjs - optional preload for the memcached-lite process that
// bench/step2.sh puts under GET load while it writes a snapshot:
//
//   NODE_OPTIONS="--import /abs/path/bench/step2-eld.mjs" STEP2_ELD_OUT=FILE memcached-lite ...
//
// It changes nothing in the server: it only observes. Every 100 ms it appends
// "eld <epoch_ms> <max_ms> <samples>" to FILE: the longest interval between
// two ticks of perf_hooks.monitorEventLoopDelay in that period (5 ms
// resolution; Node records the whole interval, so an idle loop shows ~5 and
// a stall of X ms shows as ~X + 5: the report subtracts the resolution),
// and "gc <epoch_ms> <duration_ms> <kind>" for every GC pause of 5 ms or more (PerformanceObserver 'gc' entries; kind 1 =
// minor/scavenge, 2 = major/mark-compact, 4 = incremental, 8 = weak callbacks).
// The timers are unref'd, so it never keeps the process alive. Without
// STEP2_ELD_OUT it does nothing.

import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks';
import { openSync, writeSync } from 'node:fs';

const outPath = process.env.STEP2_ELD_OUT;
if (outPath) {
  const fd = openSync(outPath, 'a');
  const resolutionMs = 5;
  const h = monitorEventLoopDelay({ resolution: resolutionMs });
  h.enable();
  writeSync(fd, `start ${Date.now()} pid ${process.pid} resolution_ms ${resolutionMs}\n`);
  const timer = setInterval(() => {
    writeSync(fd, `eld ${Date.now()} ${(h.count ? h.max / 1e6 : 0).toFixed(1)} ${h.count}\n`);
    h.reset();
  }, 100);
  timer.unref();
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.duration >= 5) writeSync(fd, `gc ${Math.round(performance.timeOrigin + e.startTime)} ${e.duration.toFixed(1)} ${e.detail?.kind ?? e.kind ?? '?'}\n`);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
}
