// Command line of mcl bench (src/cli/bench/args.ts): targets in order with
// names, defaults full and --quick, overrides, and every refusal.

import { describe, expect, it } from 'vitest';
import { BenchUsageError, parseBenchArgs, parseEndpoint } from '../../../src/cli/bench/args.js';

const base = ['--server', 'lite=127.0.0.1:11211', '--out', '/tmp/x'];

function refusal(argv: string[]): string {
  try {
    parseBenchArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(BenchUsageError);
    return (err as Error).message;
  }
  throw new Error(`accepted: ${argv.join(' ')}`);
}

describe('parseEndpoint', () => {
  it('reads NAME=HOST:PORT, HOST:PORT (named after itself) and bracketed IPv6', () => {
    expect(parseEndpoint('lite=127.0.0.1:11211', '--server')).toEqual({ name: 'lite', host: '127.0.0.1', port: 11211 });
    expect(parseEndpoint('localhost:1', '--server')).toEqual({ name: 'localhost:1', host: 'localhost', port: 1 });
    expect(parseEndpoint('v6=[::1]:65535', '--server')).toEqual({ name: 'v6', host: '::1', port: 65535 });
  });

  it.each(['127.0.0.1', 'x=127.0.0.1:', 'x=:80', 'x=h:0', 'x=h:65536', 'x=h:8o', 'a b=h:1', '=h:1'])('refuses %s', (spec) => {
    expect(() => parseEndpoint(spec, '--server')).toThrow(BenchUsageError);
  });
});

describe('parseBenchArgs', () => {
  it('has the full defaults: N 50..400 by 50, 20 requests, 50 clients, depths 1 and 16, 10 s', () => {
    const o = parseBenchArgs(base);
    expect(o).toMatchObject({
      targets: [{ name: 'lite', host: '127.0.0.1', port: 11211, protocol: 'memcached' }],
      outDir: '/tmp/x', quick: false, methods: ['original', 'modern'],
      ns: [50, 100, 150, 200, 250, 300, 350, 400], requests: 20, clients: 50, depths: [1, 16], durationS: 10,
      keyspace: 100_000, redisRequests: 100_000, seed: 1, timeoutMs: 10_000, progress: true,
      ours: 'lite', memcached: null, notes: [],
    });
  });

  it('--quick keeps N=400 and 50 clients (the targets) and shortens the rest', () => {
    const o = parseBenchArgs([...base, '--quick']);
    expect(o).toMatchObject({ quick: true, ns: [50, 400], requests: 4, clients: 50, depths: [1], durationS: 2 });
  });

  it('takes overrides, as --opt VALUE or --opt=VALUE, lists sorted and deduplicated; --depth is --depths', () => {
    const o = parseBenchArgs([...base, '--quick', '--ns', '400,20,20', '--requests=3', '--depth', '8,1', '--duration', '0.5',
      '--clients', '7', '--keyspace', '99', '--redis-requests', '500', '--seed', '42', '--timeout', '250', '--methods', 'modern', '--no-progress',
      '--note', 'build abc', '--note', 'second']);
    expect(o).toMatchObject({ ns: [20, 400], requests: 3, depths: [1, 8], durationS: 0.5, clients: 7, keyspace: 99, redisRequests: 500,
      seed: 42, timeoutMs: 250, methods: ['modern'], progress: false, notes: ['build abc', 'second'] });
  });

  it('keeps targets in command-line order, --server and --redis interleaved, and finds the roles', () => {
    const o = parseBenchArgs(['--server', 'memcached=h:1', '--redis', 'r=h:2', '--server', 'lite=h:3', '--out', 'd', '--ours', 'lite']);
    expect(o.targets.map((t) => [t.name, t.protocol])).toEqual([['memcached', 'memcached'], ['r', 'redis'], ['lite', 'memcached']]);
    expect(o.ours).toBe('lite');
    expect(o.memcached).toBe('memcached');
    expect(parseBenchArgs(['--server', 'a=h:1', '--server', 'b=h:2', '--out', 'd', '--memcached', 'b']).memcached).toBe('b');
  });

  it('refuses what it cannot run, naming the problem', () => {
    expect(refusal(['--out', 'd'])).toMatch(/at least one --server/);
    expect(refusal(['--server', 'h:1'])).toMatch(/--out DIR is required/);
    expect(refusal([...base, '--server', 'lite=h:2'])).toMatch(/two targets are named 'lite'/);
    expect(refusal([...base, '--ours', 'nobody'])).toMatch(/--ours: no --server named 'nobody'/);
    expect(refusal(['--redis', 'r=h:1', '--server', 'a=h:2', '--out', 'd', '--memcached', 'r'])).toMatch(/--memcached: no --server named 'r'/);
    expect(refusal([...base, '--ns', '0'])).toMatch(/--ns: '0' is not a positive whole number/);
    expect(refusal([...base, '--ns', '50,x'])).toMatch(/--ns/);
    expect(refusal([...base, '--requests', '-1'])).toMatch(/--requests/);
    expect(refusal([...base, '--duration', '0'])).toMatch(/--duration: '0' is not a positive number of seconds/);
    expect(refusal([...base, '--methods', 'classic'])).toMatch(/unknown method 'classic'/);
    expect(refusal([...base, '--frobnicate', '1'])).toMatch(/unknown argument '--frobnicate'/);
    expect(refusal([...base, 'stray'])).toMatch(/unknown argument 'stray'/);
    expect(refusal([...base, '--seed'])).toMatch(/--seed needs a value/);
    expect(refusal(['--server', 'nope', '--out', 'd'])).toMatch(/--server: 'nope' is not \[NAME=\]HOST:PORT/);
  });

  it('--help is a usage error with an empty message (usage, exit 0)', () => {
    expect(refusal([...base, '--help'])).toBe('');
    expect(refusal(['-h'])).toBe('');
  });
});
