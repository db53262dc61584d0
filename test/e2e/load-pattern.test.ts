// The original project's load pattern, end to end: for N = 50, 100, ... 400,
// N clients each open their own TCP connection, send one request, read the
// reply and close. All N connect first, so N connections really are open at
// once; then each sends its request. Three phases per N: SET of N keys, GET
// of the same keys (all must hit, with the value set), then SET and GET
// mixed. No error, no refused or reset connection, nothing rejected by the
// default connection limit (-c 1024), and every connection counted once.

import { afterAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { Client } from '../../src/client/client.js';
import { cleanup, startServer } from './harness.js';

afterAll(cleanup);

interface OneShot { socket: Socket; reply: Promise<string> }

/** Opens a connection; `reply` resolves with everything received up to a complete reply, then the socket is closed. */
function open(port: number, complete: (text: string) => boolean): Promise<OneShot> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, noDelay: true });
    let text = '';
    const reply = new Promise<string>((res, rej) => {
      const timer = setTimeout(() => { socket.destroy(); rej(new Error(`no complete reply in 30 s; got ${JSON.stringify(text)}`)); }, 30_000);
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (complete(text)) { clearTimeout(timer); socket.end(); res(text); }
      });
      socket.on('close', () => { clearTimeout(timer); if (!complete(text)) rej(new Error(`connection closed after ${JSON.stringify(text)}`)); });
      socket.on('error', (err) => { clearTimeout(timer); rej(err); });
    });
    reply.catch(() => {}); // observed by the caller
    socket.once('connect', () => resolve({ socket, reply }));
    socket.once('error', reject);
  });
}

const lineDone = (t: string) => t.endsWith('\r\n');
const getDone = (t: string) => t.endsWith('END\r\n') || /^(SERVER_|CLIENT_)?ERROR/.test(t);

interface Request { bytes: string; complete: (t: string) => boolean; expect: string }

/** N clients: all connect, then each sends its one request, reads the reply and closes. Returns the problems seen. */
async function burst(port: number, requests: Request[]): Promise<string[]> {
  const opened = await Promise.allSettled(requests.map((r) => open(port, r.complete)));
  const problems = opened.flatMap((o, i) => (o.status === 'rejected' ? [`client ${i}: connect failed: ${(o.reason as Error).message}`] : []));
  const replies = await Promise.allSettled(opened.map((o, i) => {
    if (o.status === 'rejected') return Promise.resolve('');
    o.value.socket.write(requests[i]!.bytes);
    return o.value.reply;
  }));
  replies.forEach((r, i) => {
    if (opened[i]!.status === 'rejected') return;
    if (r.status === 'rejected') problems.push(`client ${i}: ${(r.reason as Error).message}`);
    else if (r.value !== requests[i]!.expect) problems.push(`client ${i}: ${JSON.stringify(requests[i]!.bytes.slice(0, 40))} got ${JSON.stringify(r.value)}, expected ${JSON.stringify(requests[i]!.expect)}`);
  });
  return problems;
}

const value = (n: number, i: number, phase: string) => `${phase}-${n}-${i}-${'v'.repeat((i * 7) % 90)}`;
const setReq = (key: string, v: string): Request => ({ bytes: `set ${key} 0 0 ${v.length}\r\n${v}\r\n`, complete: lineDone, expect: 'STORED\r\n' });
const getReq = (key: string, v: string): Request => ({ bytes: `get ${key}\r\n`, complete: getDone, expect: `VALUE ${key} 0 ${v.length}\r\n${v}\r\nEND\r\n` });

describe('load pattern: one request per connection, N concurrent clients', () => {
  it('N = 50, 100, ... 400: SET, then GET of the same keys (all hit), then SET and GET mixed; no errors, no refused connections at -c 1024', async () => {
    const server = await startServer(); // default -c 1024
    const admin = await Client.connect({ port: server.port });
    const totalBefore = Number((await admin.stats()).get('total_connections'));
    let opened = 0;
    const timings: string[] = [];
    for (let n = 50; n <= 400; n += 50) {
      const started = Date.now();
      const keys = Array.from({ length: n }, (_, i) => `load:${n}:${i}`);
      const phases: Array<[string, Request[]]> = [
        ['SET', keys.map((k, i) => setReq(k, value(n, i, 'a')))],
        ['GET', keys.map((k, i) => getReq(k, value(n, i, 'a')))],
        // Mixed: even clients overwrite their key, odd ones read theirs (set in the first phase).
        ['SET+GET', keys.map((k, i) => (i % 2 === 0 ? setReq(k, value(n, i, 'b')) : getReq(k, value(n, i, 'a'))))],
      ];
      for (const [phase, requests] of phases) {
        const problems = await burst(server.port, requests);
        expect(problems.slice(0, 10), `N=${n} ${phase}: ${problems.length} problems`).toEqual([]);
        opened += n;
      }
      // The mixed phase's writes are all there.
      const after = await admin.getMulti(keys);
      expect(after.size, `N=${n}`).toBe(n);
      keys.forEach((k, i) => expect(after.get(k)?.value.toString(), k).toBe(value(n, i, i % 2 === 0 ? 'b' : 'a')));
      timings.push(`N=${n}: ${Date.now() - started} ms`);
    }
    const stats = await admin.stats();
    expect(stats.get('rejected_connections')).toBe('0');
    // Every client connected once (nobody retried, nothing was turned away).
    expect(Number(stats.get('total_connections')) - totalBefore).toBe(opened);
    console.log(`load pattern: ${opened} one-shot connections; ${timings.join(', ')}`);
    admin.close();
    expect(await server.stop()).toBe(0);
  }, 120_000);
});
