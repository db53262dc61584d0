#!/usr/bin/env node
// Event-loop stall probe for the soak (scripts/test-soak.mjs), in its own
// process so the load generator's busy event loop cannot delay it:
// `node scripts/soak-probe.mjs PORT`. Sends `version` every 10 ms on one
// connection, on a fixed schedule whether or not earlier replies came back
// (a stalled server then shows its full stall in the oldest reply's latency),
// and on SIGTERM prints one JSON line: probes sent and answered, max and p99
// reply latency, the longest gap between two replies, and how late its own
// timer fired at worst (if that is large, the probe itself was descheduled).
import { connect } from 'node:net';

const port = Number(process.argv[2]);
const intervalMs = 10;
const socket = connect({ host: '127.0.0.1', port, noDelay: true });
const sentAt = [];
const latencies = [];
let buf = '';
let lastReply = 0;
let maxGap = 0;
let maxLate = 0;
let sent = 0;
let errors = 0;
let timer;

socket.on('error', (err) => { errors++; process.stderr.write(`probe: ${err.message}\n`); });
socket.on('data', (d) => {
  buf += d.toString('latin1');
  for (let nl; (nl = buf.indexOf('\r\n')) >= 0;) {
    const line = buf.slice(0, nl);
    buf = buf.slice(nl + 2);
    const now = performance.now();
    const at = sentAt.shift();
    if (!line.startsWith('VERSION ') || at === undefined) { errors++; continue; }
    latencies.push(now - at);
    if (lastReply) maxGap = Math.max(maxGap, now - lastReply);
    lastReply = now;
  }
});
socket.once('connect', () => {
  let next = performance.now() + intervalMs;
  const tick = () => {
    const now = performance.now();
    maxLate = Math.max(maxLate, now - next);
    sentAt.push(now);
    sent++;
    socket.write('version\r\n');
    next += intervalMs;
    if (next < now) next = now + intervalMs; // no burst to catch up
    timer = setTimeout(tick, Math.max(0, next - performance.now()));
  };
  timer = setTimeout(tick, intervalMs);
  process.stdout.write('probing\n');
});
process.on('SIGTERM', () => {
  clearTimeout(timer);
  const sorted = [...latencies].sort((a, b) => a - b);
  const p99 = sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] : null;
  // A probe still unanswered counts with its age so far.
  const oldest = sentAt.length ? performance.now() - sentAt[0] : 0;
  const maxLatency = Math.max(sorted.length ? sorted[sorted.length - 1] : 0, oldest);
  process.stdout.write(`${JSON.stringify({ sent, answered: latencies.length, errors, maxLatencyMs: maxLatency, p99LatencyMs: p99, maxGapMs: maxGap, maxTimerLateMs: maxLate })}\n`);
  socket.destroy();
  process.exit(0);
});
