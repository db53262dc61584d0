// What the network layer needs from the rest of the server. The composition
// root (main.ts) implements it with the engine, the WAL and the clock; tests
// can implement it with a bare engine. The net layer never writes files.

import type { Engine } from '../engine/engine.js';

export interface Backend {
  readonly engine: Engine;
  /** Current time in ms since the epoch. */
  now(): number;
  /** Highest WAL sequence a reply may reflect (durable under the fsync mode). */
  ackedSeq(): number;
  /** Called whenever ackedSeq advances. */
  onAck(listener: () => void): void;
  /** 'ok': apply mutations; 'wait': un-durable backlog too large; 'full': disk full, refuse. */
  writeAdmission(): 'ok' | 'wait' | 'full';
  whenAdmissible(): Promise<void>;
  /** Extra `stats` lines (name, value) from the storage side: wal_*, durable_seq. */
  storageStats(): Array<[string, string | number]>;
}

export interface ServerSettings {
  host: string;
  port: number;
  connectionLimit: number;
  itemSizeMaxBytes: number;
  verbosity: number;
  /** For `stats settings` and logs. */
  dataDir: string;
  fsyncMode: string;
  evictionsDisabled: boolean;
  /** Refuse keys with control characters (doc/protocol.txt's rule; memcached itself accepts them). */
  strictKeys: boolean;
}
