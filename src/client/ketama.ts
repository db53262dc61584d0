// Ketama consistent hashing, point for point the continuum of twemproxy's
// `distribution: ketama` (nutcracker 0.5.0, src/hashkit/nc_ketama.c), which
// keeps libmemcached's weighted ketama layout:
//
// - Each server has a name: the one given in the config, else "host:port",
//   else "host" alone when the port is 11211 (libmemcached compatibility).
// - A server gets floorf(weight/total * 40 * nservers + 1e-10) * 4 points
//   (160 with equal weights), computed in float32 as the C code does. Point
//   group i (0-based) is md5("<name>-<i>"); its 16 bytes give 4 points, each
//   a little-endian uint32 (bytes 0-3, 4-7, 8-11, 12-15).
// - A key goes to the owner of the first point >= hash(key), wrapping to the
//   first point. hash(key) is the pool's `hash:` -- md5 (first 4 digest bytes,
//   little-endian) or fnv1a_64 (twemproxy's: the 64-bit FNV constants cut to
//   32 bits, and each key byte sign-extended as a C char).
// - Equal point values (rare: 480 points in 2^32) are ordered by server
//   index; twemproxy's qsort leaves their order unspecified.
//
// The continuum is built once for a fixed server list (twemproxy with
// auto_eject_hosts: false keeps every server in it, up or down).

import { createHash } from 'node:crypto';
import { ArgumentError } from './errors.js';

export type HashName = 'md5' | 'fnv1a_64';
export const hash_names: readonly HashName[] = ['md5', 'fnv1a_64'];

export interface KetamaNode { name: string; weight: number }

const points_per_server = 160;
const points_per_hash = 4;
const default_port = 11211;
/** twemproxy formats "<name>-<i>" into an 86-byte buffer; longer names are undefined behaviour there. */
const point_name_bytes_max = 85;

/** The name a server is hashed by, as twemproxy derives it. */
export function ketamaName(host: string, port: number, name?: string): string {
  if (name !== undefined) return name;
  return port === default_port ? host : `${host}:${port}`;
}

/** Points of one server: floorf(pct * 160 / 4 * n + 1e-10) * 4, each step in float32. */
export function pointsFor(weight: number, totalWeight: number, servers: number): number {
  const f = Math.fround;
  const pct = f(f(weight) / f(totalWeight));
  const perGroup = f(f(f(pct * points_per_server) / points_per_hash) * f(servers));
  return f(Math.floor(f(perGroup + 0.0000000001))) * points_per_hash;
}

export class Continuum {
  private readonly values: Uint32Array;
  private readonly owners: Uint32Array;

  constructor(nodes: readonly KetamaNode[]) {
    if (nodes.length === 0) throw new ArgumentError('ketama needs at least one server');
    const total = nodes.reduce((sum, n) => sum + n.weight, 0);
    const points: Array<[value: number, owner: number]> = [];
    nodes.forEach((node, owner) => {
      if (!Number.isInteger(node.weight) || node.weight < 1) throw new ArgumentError(`server ${node.name}: weight must be a positive integer`);
      const groups = pointsFor(node.weight, total, nodes.length) / points_per_hash;
      for (let i = 0; i < groups; i++) {
        const label = `${node.name}-${i}`;
        if (Buffer.byteLength(label) > point_name_bytes_max) throw new ArgumentError(`server name ${JSON.stringify(node.name)} is too long for ketama (twemproxy hashes at most ${point_name_bytes_max} bytes of "name-i")`);
        const digest = md5(Buffer.from(label, 'utf8'));
        for (let x = 0; x < points_per_hash; x++) points.push([digest.readUInt32LE(x * 4), owner]);
      }
    });
    points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.values = Uint32Array.from(points, (p) => p[0]);
    this.owners = Uint32Array.from(points, (p) => p[1]);
  }

  get size(): number { return this.values.length; }

  /** Index of the server owning `hash` (ketama_dispatch: first point >= hash, wrapping). */
  pick(hash: number): number {
    let lo = 0;
    let hi = this.values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.values[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === this.values.length ? 0 : lo]!;
  }
}

export function hashKey(hash: HashName, key: Buffer): number {
  return hash === 'md5' ? md5(key).readUInt32LE(0) : fnv1a64Twemproxy(key);
}

function md5(bytes: Buffer): Buffer {
  return createHash('md5').update(bytes).digest();
}

/** twemproxy's hash_fnv1a_64: uint32 state, (uint32)FNV_64_INIT and (uint32)FNV_64_PRIME, bytes as signed chars. */
function fnv1a64Twemproxy(key: Buffer): number {
  let h = 0x84222325;
  for (const b of key) {
    h = (h ^ (b >= 0x80 ? b | 0xffffff00 : b)) >>> 0;
    h = Math.imul(h, 0x1b3) >>> 0;
  }
  return h;
}

/** 32-bit FNV-1a: picks a pool connection for a key (independent of the server choice). */
export function fnv1a32(key: Buffer): number {
  let h = 0x811c9dc5;
  for (const b of key) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h;
}
