// Kill torture against the real server process, shared by
// test/e2e/crash-torture.test.ts (a few rounds in `npm test`) and
// scripts/test-crash.mjs (`npm run test:crash -- --rounds N`).
//
// Each round: start bin/memcached-lite on the same data directory (snapshots
// every second once the WAL grew 64 KB), 16 writer connections run set,
// delete, append, incr, add and cas (gets + cas, sometimes with a stale
// unique) on a shared key space, and the server is killed with SIGKILL at a
// random instant; every other round the kill is aimed inside a snapshot
// (SIGUSR2, wait until its .tmp file exists, kill 0-30 ms later). Then the
// server restarts on the same directory and the recovered state is checked.
//
// The model: a writer takes a key only while no other writer has an operation
// on it in flight, so each key's history is a sequence of operations, all
// acknowledged except at most the last one (in flight at the kill). Every
// reply must be the one the model predicts. After the restart each key must
// hold exactly the state after its acknowledged operations, or (for a key
// with a mutation in flight) the state after that one too:
//   - no acknowledged write lost, nothing that was never written appears
//     (values and flags compared exactly; curr_items equals the model's count;
//     keys never written are absent);
//   - counters (incr-only keys) are not below their last acknowledged value;
//   - a CAS unique observed by gets stays the same while the item is not
//     modified (across restarts too), recovered uniques are distinct, and
//     every unique handed out after a restart is above every unique seen
//     before it.
// A preloaded bulk of items (so snapshots take long enough to be hit) must
// survive every round unchanged.
//
// Seeds: the base seed (CRASH_SEED, or random) and each round's seed are
// printed. A seed fixes every random choice (operations, values, kill delays);
// the interleaving of 16 connections is the scheduler's, so a replay repeats
// the choices, not necessarily the exact timing.

import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, MemcachedError, type Value } from '../../src/client/client.js';
import { startServer, tempDataDir, type ServerProcess } from './harness.js';
import { prng } from '../prng.js';

export interface CrashTortureOptions {
  rounds: number;
  /** Base seed; round r uses roundSeed(seed, r). Random when absent. */
  seed?: number;
  writers?: number;
  /** Generic keys (set/delete/append/incr/add/cas); plus `counters` incr-only keys. */
  keys?: number;
  counters?: number;
  /** Items loaded before round 1 (they make snapshots take a while). */
  bulk?: number;
  /** Random run time before the kill: minRunMs + rand(extraRunMs). */
  minRunMs?: number;
  extraRunMs?: number;
  dataDir?: string;
  log?: (line: string) => void;
}

export interface RoundReport {
  round: number;
  seed: number;
  acked: number;
  /** Mutations in flight (sent, not acknowledged) at the kill. */
  inFlight: number;
  /** Of those, how many the restarted server shows applied. */
  inFlightApplied: number;
  /** The kill was aimed at a snapshot (SIGUSR2 first). */
  aimedAtSnapshot: boolean;
  /** A snapshot .tmp file existed when the process was gone: killed mid-snapshot. */
  killedMidSnapshot: boolean;
  snapshotsTaken: number;
  /** The restart loaded a snapshot (not only the WAL). */
  recoveredFromSnapshot: boolean;
  recovered: string;
  ms: number;
}

export interface CrashTortureReport {
  seed: number;
  dataDir: string;
  rounds: RoundReport[];
  acked: number;
  ms: number;
}

export class TortureFailure extends Error {}


export const roundSeed = (seed: number, round: number): number => (Math.imul(seed ^ 0x5bd1e995, 31) + Math.imul(round + 1, 0x9e3779b1)) >>> 0;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface KeyState { value: string | null; flags: number }
interface KeyModel extends KeyState {
  /** The CAS unique gets last showed, if the item has not been modified since; else null. */
  cas: bigint | null;
  /** Round of the last mutation (0 = none yet). */
  mutatedRound: number;
  counter: boolean;
  busy: boolean;
}
interface InFlight { key: string; op: string; after: KeyState }

const bulkValue = (i: number) => `bulk-${i}-${'b'.repeat(60 + (i % 40))}`;
const isNumeric = (v: string | null): v is string => v !== null && /^\d{1,18}$/.test(v);
const snapshotArgs = ['--snapshot-interval', '1', '--snapshot-min-wal', '64k'];

function snapshotTmpExists(dataDir: string): boolean {
  const dir = join(dataDir, 'snapshots');
  return existsSync(dir) && readdirSync(dir).some((n) => n.endsWith('.tmp'));
}

async function waitFor(cond: () => boolean, timeoutMs: number, pollMs = 1): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

async function getsAll(c: Client, keys: string[]): Promise<Map<string, Value>> {
  const out = new Map<string, Value>();
  for (let i = 0; i < keys.length; i += 200) {
    for (const [k, v] of await c.getsMulti(keys.slice(i, i + 200))) out.set(k, v);
  }
  return out;
}

export async function runCrashTorture(opts: CrashTortureOptions): Promise<CrashTortureReport> {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const writers = opts.writers ?? 16;
  const nKeys = opts.keys ?? 96;
  const nCounters = opts.counters ?? 8;
  const bulk = opts.bulk ?? 10_000;
  const minRunMs = opts.minRunMs ?? 300;
  const extraRunMs = opts.extraRunMs ?? 1200;
  const log = opts.log ?? (() => {});
  const dataDir = opts.dataDir ?? tempDataDir();
  const started = Date.now();
  log(`crash torture: base seed ${seed} (CRASH_SEED=${seed} repeats the random choices), ${opts.rounds} rounds, data dir ${dataDir}`);

  const model = new Map<string, KeyModel>();
  for (let i = 0; i < nKeys; i++) model.set(`k:${i}`, { value: null, flags: 0, cas: null, mutatedRound: 0, counter: false, busy: false });
  for (let i = 0; i < nCounters; i++) model.set(`ctr:${i}`, { value: null, flags: 0, cas: null, mutatedRound: 0, counter: true, busy: false });
  const allKeys = [...model.keys()];
  const bulkKeys = Array.from({ length: bulk }, (_, i) => `bulk:${i}`);
  let maxCasSeen = 0n;
  let probe: string | null = null; // the key verification writes after each restart
  let inflight: InFlight[] = [];
  const rounds: RoundReport[] = [];
  let totalAcked = 0;

  const fail = (ctx: string, problems: string[]): never => {
    const shown = problems.slice(0, 25).join('\n  ');
    throw new TortureFailure(`crash torture failed (base seed ${seed}, ${ctx}; replay with CRASH_SEED=${seed}):\n  ${shown}${problems.length > 25 ? `\n  ... and ${problems.length - 25} more` : ''}`);
  };

  /** Checks the restarted server against the model; resolves in-flight keys to what was recovered. */
  const verify = async (server: ServerProcess, ctx: string): Promise<number> => {
    const problems: string[] = [];
    const c = await Client.connect({ port: server.port, timeoutMs: 30_000 });
    try {
      if (snapshotTmpExists(dataDir)) problems.push('a snapshot .tmp file survived start-up');
      const got = await getsAll(c, allKeys);
      const pending = new Map(inflight.map((f) => [f.key, f]));
      let applied = 0;
      const casOwners = new Map<bigint, string>();
      const seenCas = (key: string, cas: bigint | undefined) => {
        if (cas === undefined) { problems.push(`${key}: gets gave no CAS`); return; }
        const other = casOwners.get(cas);
        if (other !== undefined) problems.push(`${key} and ${other} share CAS ${cas}`);
        casOwners.set(cas, key);
      };
      const show = (s: KeyState) => (s.value === null ? 'absent'
        : `${JSON.stringify(s.value.length > 60 ? `${s.value.slice(0, 24)}...${s.value.slice(-24)}` : s.value)} (${s.value.length} bytes) flags ${s.flags}`);
      for (const key of allKeys) {
        const m = model.get(key)!;
        const v = got.get(key);
        const actual: KeyState = v ? { value: v.value.toString('latin1'), flags: v.flags } : { value: null, flags: 0 };
        const same = (s: KeyState) => s.value === actual.value && (s.value === null || s.flags === actual.flags);
        const f = pending.get(key);
        if (same(m) && f && same(f.after)) {
          // An in-flight write of the same value: applied or not, only the CAS could tell.
          m.cas = null;
        } else if (same(m)) {
          // The acknowledged state (an in-flight mutation, if any, was lost, which is allowed).
          if (v && m.cas !== null && v.cas !== m.cas) problems.push(`${key}: CAS changed from ${m.cas} to ${v.cas} although the item was not modified`);
        } else if (f && same(f.after)) {
          applied++;
          m.value = f.after.value;
          m.flags = f.after.flags;
          m.cas = null;
          m.mutatedRound = -1;
        } else {
          const allowed = f ? `${show(m)} (all acknowledged) or ${show(f.after)} (with the in-flight ${f.op})` : show(m);
          const below = m.counter && isNumeric(m.value) && isNumeric(actual.value) && BigInt(actual.value) < BigInt(m.value);
          problems.push(`${key}: recovered ${show(actual)}, expected ${allowed}${below ? ' -- counter went below its last acknowledged value' : ''}`);
        }
        if (v) {
          seenCas(key, v.cas);
          if (m.cas === null && v.cas !== undefined) m.cas = v.cas;
        }
      }
      const bulkGot = await getsAll(c, bulkKeys);
      let bulkBad = 0;
      for (let i = 0; i < bulk; i++) {
        const v = bulkGot.get(bulkKeys[i]!);
        if (!v || v.value.toString('latin1') !== bulkValue(i)) {
          if (bulkBad++ < 5) problems.push(`bulk:${i}: recovered ${v ? JSON.stringify(v.value.toString('latin1')) : 'absent'}, expected ${bulkValue(i)}`);
        } else seenCas(bulkKeys[i]!, v.cas);
      }
      if (bulkBad > 5) problems.push(`... ${bulkBad} bulk items wrong in all`);
      if (probe !== null) {
        const p = await c.get('probe');
        if (p?.value.toString() !== probe) problems.push(`probe: recovered ${p ? p.value.toString() : 'absent'}, expected ${probe}`);
      }
      // Nothing that was never written: no stray keys, and the item count is the model's.
      const never = await c.getMulti(['k:never', `k:${nKeys}`, `ctr:${nCounters}`, `bulk:${bulk}`, 'k:-1']);
      if (never.size) problems.push(`keys never written exist: ${[...never.keys()].join(', ')}`);
      const present = [...model.values()].filter((m) => m.value !== null).length + (probe !== null ? 1 : 0) + bulk;
      const items = Number((await c.stats()).get('curr_items'));
      if (items !== present) problems.push(`curr_items ${items}, expected ${present} (model keys + probe + bulk)`);
      // CAS never goes backwards: a fresh write gets a unique above every unique seen so far.
      for (const cas of casOwners.keys()) if (cas > maxCasSeen) maxCasSeen = cas;
      probe = `probe-${ctx.replace(/\W+/g, '-')}`;
      const stored = await c.set('probe', probe);
      if (stored !== 'STORED') problems.push(`set probe: ${stored}`);
      const fresh = (await c.gets('probe'))?.cas;
      if (fresh === undefined || fresh <= maxCasSeen) problems.push(`CAS went backwards: a write after the restart got ${fresh}, but ${maxCasSeen} was seen before`);
      else maxCasSeen = fresh;
      if (problems.length) fail(`after the restart, ${ctx}`, problems);
      return applied;
    } finally {
      c.close();
    }
  };

  for (let round = 1; round <= opts.rounds; round++) {
    const rseed = roundSeed(seed, round);
    const rand = prng(rseed);
    const ctx = `round ${round} seed ${rseed}`;
    const roundStart = Date.now();
    const server = await startServer({ dataDir, args: snapshotArgs });
    try {
      let applied = 0;
      const recovered = /recovered .*/.exec(server.stderr())?.[0] ?? '(no recovery line)';
      if (round > 1) applied = await verify(server, `before round ${round}`);
      if (round === 1) {
        const loader = await Client.connect({ port: server.port, timeoutMs: 30_000 });
        for (let i = 0; i < bulk; i += 1000) {
          const replies = await Promise.all(bulkKeys.slice(i, i + 1000).map((k, j) => loader.set(k, bulkValue(i + j))));
          if (replies.some((r) => r !== 'STORED')) fail(ctx, [`bulk load: ${replies.find((r) => r !== 'STORED')}`]);
        }
        loader.close();
      }
      const prev = rounds[rounds.length - 1];
      if (prev) { prev.inFlightApplied = applied; prev.recoveredFromSnapshot = /from snapshot/.test(recovered); prev.recovered = recovered; }

      const roundMaxCas = maxCasSeen;
      const clients = await Promise.all(Array.from({ length: writers }, () => Client.connect({ port: server.port, timeoutMs: 30_000 })));
      const failures: string[] = [];
      let killing = false;
      let stop = false;
      let acked = 0;
      const current = new Map<number, InFlight>();
      const freeKey = (r: (n: number) => number, counters: boolean): string | null => {
        for (let tries = 0; tries < 20; tries++) {
          const key = counters ? `ctr:${r(nCounters)}` : `k:${r(nKeys)}`;
          if (!model.get(key)!.busy) return key;
        }
        return null;
      };
      const writer = async (client: Client, w: number) => {
        const r = prng((rseed ^ Math.imul(w + 1, 0x85ebca6b)) >>> 0);
        for (let n = 0; !stop; n++) {
          const counterOp = r(8) === 0;
          const key = freeKey(r, counterOp);
          if (key === null) { await sleep(0); continue; }
          const m = model.get(key)!;
          m.busy = true;
          const tag = `${round}.${w}.${n}`;
          let op = '';
          try {
            // A read first for cas (its unique), and a check that uniques only grow.
            let kind: string;
            if (m.counter) kind = m.value === null ? 'set' : 'incr';
            else kind = ['set', 'set', 'delete', 'append', 'incr', 'cas', 'cas'][r(7)]!;
            if (kind === 'incr' && !isNumeric(m.value) && m.value !== null) kind = 'set';
            let cas: bigint | undefined;
            if (kind === 'cas') {
              op = `gets ${key}`;
              const v = await client.gets(key);
              const value = v ? v.value.toString('latin1') : null;
              if (value !== m.value || (v && v.flags !== m.flags)) failures.push(`${ctx}: gets ${key} gave ${value} flags ${v?.flags}, model has ${m.value} flags ${m.flags}`);
              if (v) {
                cas = v.cas!;
                if (m.cas !== null && cas !== m.cas) failures.push(`${ctx}: ${key} CAS ${m.cas} became ${cas} with no write`);
                if (m.cas === null && m.mutatedRound === round && cas <= roundMaxCas) failures.push(`${ctx}: ${key} written in this round has CAS ${cas}, not above ${roundMaxCas} seen before the restart`);
                m.cas = cas;
                if (cas > maxCasSeen) maxCasSeen = cas;
              } else kind = 'add';
            }
            const flags = r(4) === 0 ? r(2 ** 32) : r(100);
            const newValue = r(4) === 0 ? String(r(1_000_000)) : `${tag}.${'x'.repeat(r(4) === 0 ? r(3000) : r(100))}`;
            let after: KeyState;
            let expected: unknown;
            let send: () => Promise<unknown>;
            switch (kind) {
              case 'set':
                after = { value: m.counter ? '0' : newValue, flags: m.counter ? 0 : flags };
                expected = 'STORED';
                send = () => client.set(key, after.value!, { flags: after.flags });
                break;
              case 'add':
                after = { value: newValue, flags };
                expected = 'STORED';
                send = () => client.add(key, newValue, { flags });
                break;
              case 'delete':
                after = { value: null, flags: 0 };
                expected = m.value === null ? 'NOT_FOUND' : 'DELETED';
                send = () => client.delete(key);
                break;
              case 'append': {
                const suffix = `+${tag}`;
                after = m.value === null ? { value: null, flags: 0 } : { value: m.value + suffix, flags: m.flags };
                expected = m.value === null ? 'NOT_STORED' : 'STORED';
                send = () => client.append(key, suffix);
                break;
              }
              case 'incr': {
                const delta = BigInt(1 + r(1000));
                after = m.value === null ? { value: null, flags: 0 } : { value: String(BigInt(m.value) + delta), flags: m.flags };
                expected = m.value === null ? 'NOT_FOUND' : BigInt(after.value!);
                send = () => client.incr(key, delta);
                break;
              }
              default: { // cas, on a present item
                const stale = r(4) === 0;
                after = stale ? { value: m.value, flags: m.flags } : { value: newValue, flags };
                expected = stale ? 'EXISTS' : 'STORED';
                const unique = stale ? cas! + 1n + BigInt(r(1000)) : cas!;
                send = () => client.cas(key, newValue, unique, { flags });
                kind = stale ? 'cas (stale unique)' : 'cas';
              }
            }
            op = `${kind} ${key}`;
            const changes = after.value !== m.value || (after.value !== null && after.flags !== m.flags) || expected === 'STORED' || typeof expected === 'bigint' || expected === 'DELETED';
            if (changes) current.set(w, { key, op: `${op} (${tag})`, after });
            const reply = await send();
            current.delete(w);
            if (reply !== expected) failures.push(`${ctx}: ${op} (was ${m.value === null ? 'absent' : JSON.stringify(m.value.slice(0, 40))}) replied ${String(reply)}, expected ${String(expected)}`);
            if (changes) {
              m.value = after.value;
              m.flags = after.value === null ? 0 : after.flags;
              m.cas = null;
              m.mutatedRound = round;
            }
            acked++;
          } catch (err) {
            // Only the kill may end a writer; any error reply, or an error before it, is a failure.
            if (err instanceof MemcachedError || !killing) failures.push(`${ctx}: ${op}: ${(err as Error).message}`);
            return;
          } finally {
            if (!current.has(w)) m.busy = false;
          }
        }
      };
      const running = clients.map((c, w) => writer(c, w));

      // Kill at a random instant; every other round, inside a snapshot.
      const aimedAtSnapshot = round % 2 === 0;
      await sleep(minRunMs + rand(extraRunMs));
      if (aimedAtSnapshot) {
        await waitFor(() => !snapshotTmpExists(dataDir), 10_000); // let a timer snapshot finish first
        process.kill(server.pid, 'SIGUSR2');
        await waitFor(() => snapshotTmpExists(dataDir), 10_000);
        const delay = round === 2 ? 0 : rand(31);
        if (delay) await sleep(delay);
      }
      killing = true;
      await server.kill9();
      const killedMidSnapshot = snapshotTmpExists(dataDir);
      stop = true;
      await Promise.all(running);
      for (const c of clients) c.close();
      inflight = [...current.values()];
      for (const m of model.values()) m.busy = false;
      if (failures.length) fail(ctx, failures);
      totalAcked += acked;
      const report: RoundReport = {
        round, seed: rseed, acked, inFlight: inflight.length, inFlightApplied: 0, aimedAtSnapshot, killedMidSnapshot,
        snapshotsTaken: [...server.stderr().matchAll(/snapshot \d{20}\.jsonl: \d+ items in/g)].length,
        recoveredFromSnapshot: false, recovered: '', ms: Date.now() - roundStart,
      };
      rounds.push(report);
      log(`round ${round} seed ${rseed}: ${acked} acked, ${report.inFlight} in flight at the kill, ${report.snapshotsTaken} snapshots, kill ${aimedAtSnapshot ? 'aimed at a snapshot' : 'at a random instant'}${killedMidSnapshot ? ' (mid-snapshot: .tmp present)' : ''}, ${report.ms} ms`);
    } finally {
      await server.kill9();
    }
  }

  // Final restart: verify the last kill too, then stop cleanly.
  const last = await startServer({ dataDir });
  try {
    const recovered = /recovered .*/.exec(last.stderr())?.[0] ?? '(no recovery line)';
    const applied = await verify(last, 'after the last round');
    const prev = rounds[rounds.length - 1];
    if (prev) { prev.inFlightApplied = applied; prev.recoveredFromSnapshot = /from snapshot/.test(recovered); prev.recovered = recovered; }
    const code = await last.stop();
    if (code !== 0) fail('final clean stop', [`exit code ${code}:\n${last.stderr()}`]);
  } finally {
    await last.kill9();
  }
  for (const r of rounds) log(`round ${r.round}: in flight ${r.inFlight}, applied after restart ${r.inFlightApplied}; ${r.recovered}`);
  return { seed, dataDir, rounds, acked: totalAcked, ms: Date.now() - started };
}
