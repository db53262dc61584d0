// Parsed text-protocol requests: what the parser hands to the connection.
// Errors are requests too (kind 'error'): the parser never throws on input.

import type { StoreMode } from '../engine/types.js';
import type { MetaRequest } from './meta.js';

export type Request =
  | { kind: 'store'; mode: StoreMode; key: string; flags: number; exptime: number; casUnique: bigint; noreply: boolean; value: Buffer }
  /** A value over -I: answered at once, its data swallowed by the parser. */
  | { kind: 'too_large'; mode: StoreMode; key: string; noreply: boolean }
  /**
   * With `error` (a bad key): the keys before it are still looked up, and gat
   * touches them, but the whole reply is the error (memcached's process_get_command).
   */
  | { kind: 'get'; keys: string[]; withCas: boolean; touchExptime: number | undefined; error?: string }
  | { kind: 'delete'; key: string; noreply: boolean }
  | { kind: 'delta'; incr: boolean; key: string; delta: bigint; noreply: boolean }
  | { kind: 'touch'; key: string; exptime: number; noreply: boolean }
  | { kind: 'flush_all'; delaySeconds: number; noreply: boolean }
  | { kind: 'version' }
  | { kind: 'quit' }
  | { kind: 'verbosity'; level: number; noreply: boolean }
  | { kind: 'stats'; args: string[] }
  | { kind: 'cache_memlimit'; megabytes: number | null; noreply: boolean }
  /** Admin commands (admin.ts): their arguments, the tokens after the command word. */
  | { kind: 'lru_crawler'; args: string[] }
  | { kind: 'shutdown'; args: string[] }
  /** A reply line decided by the parser (ERROR, CLIENT_ERROR ..., OK for no-op admin commands). */
  | { kind: 'reply'; line: string; noreply: boolean }
  /** The connection must close: an overlong line, an HTTP request, a binary-protocol frame. */
  | { kind: 'close'; reason: string }
  /** mg, ms, md, ma, me (meta.ts). */
  | MetaRequest;

export const client_error_format = 'CLIENT_ERROR bad command line format';
