// What the network layer needs from the rest of the server. The composition
// root (main.ts) implements it with the engine, the WAL and the clock; tests
// can implement it with a bare engine. The net layer never writes files.

import type { Engine } from '../engine/engine.js';
import type { Credentials } from './auth.js';

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
  /** The `shutdown` command (-A): a clean shutdown, as SIGTERM. Absent: the command is refused. */
  requestShutdown?(): void;
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
  // Optional features: absent means off (so a bare test setup needs none of them).
  /** -Y/--auth-file: connections must log in first (auth-gate.ts). */
  auth?: Credentials;
  /** --tls-cert/--tls-key: the listener speaks TLS. */
  tls?: TlsSettings;
  /** --idle-timeout: close a connection that sent no request for this many seconds (0: never). */
  idleTimeoutS?: number;
  /** -A/--enable-shutdown: the `shutdown` command is allowed. */
  shutdownEnabled?: boolean;
  /** lru_crawler state its subcommands change (created with memcached's defaults when absent). */
  lruCrawler?: LruCrawlerSettings;
  /** `stats settings` lines for our own options (data directory, fsync mode, ...). */
  extraSettings?: Array<[string, string | number]>;
}

export interface TlsSettings {
  cert: Buffer;
  key: Buffer;
  /** CA certificates client certificates must chain to (with verifyClient). */
  ca?: Buffer;
  /** Require a client certificate signed by `ca` (memcached's ssl_verify_mode 2). */
  verifyClient: boolean;
  /** File names, shown by `stats settings`. */
  certFile: string;
  keyFile: string;
  caFile?: string;
}

/** memcached's lru_crawler settings: the crawler runs, pause between items, items per class per run. */
export interface LruCrawlerSettings { enabled: boolean; sleepUs: number; toCrawl: number }
