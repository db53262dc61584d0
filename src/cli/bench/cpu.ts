// How busy the load generator itself was during a measurement: its CPU time
// (user + system, all threads) as a percentage of the wall time. Near 100 %
// on the one CPU it is pinned to, the generator, not the server, limits the
// load, and its own queueing is part of every latency it records.

import { performance } from 'node:perf_hooks';

/** Starts measuring; the returned function gives the percentage so far. */
export function cpuMeter(): () => number {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const { user, system } = process.cpuUsage(cpu0);
    const wallUs = (performance.now() - t0) * 1000;
    return wallUs > 0 ? Math.round(((user + system) / wallUs) * 100) : 0;
  };
}
