// Drives a connection's protocol in-process the way Connection does (push a
// chunk, run every complete request, detach the input), without a socket or
// a WAL: replies are recorded one per commit, with the sequence each waits for.

import { Chunks } from '../../src/net/output.js';
import type { ServerSettings } from '../../src/net/backend.js';
import type { Protocol, ReplySink, ServerContext } from '../../src/net/protocol.js';
import type { ConnectionView } from '../../src/net/stats.js';
import { FakeStorage, settings as baseSettings } from './fake-storage.js';

export interface Context extends ServerContext {
  readonly storage: FakeStorage;
  readonly logs: string[];
}

export function newContext(overrides: Partial<ServerSettings> = {}, connections?: () => ConnectionView[], startedAtMs = Date.now()): Context {
  const storage = new FakeStorage(startedAtMs);
  const logs: string[] = [];
  return {
    storage, logs, backend: storage.backend(), settings: { ...baseSettings, ...overrides },
    counters: { currConnections: 1, totalConnections: 1, rejectedConnections: 0, bytesRead: 0, bytesWritten: 0, idleKicks: 0 },
    startedAtMs, log: (_level, message) => { logs.push(message); },
    ...(connections ? { connections } : {}),
  };
}

export interface Drive { replies: string[]; seqs: number[]; closed: boolean }

export function drive(protocol: Protocol, chunks: readonly Buffer[]): Drive {
  const result: Drive = { replies: [], seqs: [], closed: false };
  const sink: ReplySink = {
    reply: new Chunks(),
    commit(seq, closeAfter = false) {
      result.replies.push(Buffer.concat(sink.reply.take()).toString('latin1'));
      result.seqs.push(seq);
      if (closeAfter) result.closed = true;
    },
  };
  for (const chunk of chunks) {
    if (result.closed) break;
    // A copy the driver then scribbles over, as the shared read buffer would be reused.
    const own = Buffer.from(chunk);
    protocol.push(own);
    while (!result.closed) {
      const request = protocol.next();
      if (request === null) break;
      protocol.execute(request, sink);
    }
    protocol.detachInput();
    own.fill(0xee);
  }
  return result;
}

/** The input whole, byte by byte, and cut in two at every point. */
export function splits(input: Buffer): Array<[string, Buffer[]]> {
  const ways: Array<[string, Buffer[]]> = [['whole', [input]], ['byte by byte', [...input].map((b) => Buffer.from([b]))]];
  for (let i = 1; i < input.length; i++) ways.push([`cut at ${i}`, [input.subarray(0, i), input.subarray(i)]]);
  return ways;
}
