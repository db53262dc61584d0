// A storage side for in-process network tests: a real engine whose effects
// are only recorded, with the WAL's acknowledged position and admission
// answer driven by hand (ackUpTo, admission, admitAgain).

import { Engine } from '../../src/engine/engine.js';
import type { Effect } from '../../src/engine/types.js';
import type { Backend, ServerSettings } from '../../src/net/backend.js';

export class FakeStorage {
  effects: Effect[] = [];
  acked = 0;
  admission: 'ok' | 'wait' | 'full' = 'ok';
  private listeners: Array<() => void> = [];
  private admitWaiters: Array<() => void> = [];
  readonly engine: Engine;

  /** startedAtMs: the server's start, which the engine gives recovered items as their access time. */
  constructor(startedAtMs?: number) {
    this.engine = new Engine({ memoryLimitBytes: 64 << 20, itemSizeMaxBytes: 1 << 20, evictionsDisabled: false, startedAtMs }, (e) => this.effects.push(e));
  }

  ackUpTo(seq: number): void {
    this.acked = seq;
    for (const l of this.listeners) l();
  }

  admitAgain(): void {
    this.admission = 'ok';
    for (const w of this.admitWaiters.splice(0)) w();
  }

  backend(): Backend {
    return {
      engine: this.engine,
      now: () => Date.now(),
      ackedSeq: () => this.acked,
      onAck: (l) => { this.listeners.push(l); },
      writeAdmission: () => this.admission,
      whenAdmissible: () => new Promise((res) => { if (this.admission !== 'wait') res(); else this.admitWaiters.push(res); }),
      storageStats: () => [['durable_seq', this.acked]],
    };
  }
}

export const settings: ServerSettings = { host: '127.0.0.1', port: 0, connectionLimit: 100, itemSizeMaxBytes: 1 << 20, verbosity: 0, dataDir: '-', fsyncMode: 'always', evictionsDisabled: false, strictKeys: false };
