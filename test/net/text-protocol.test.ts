// The text protocol run in-process on a real engine (no sockets, no WAL, a
// fixed clock): request bytes in, reply bytes out. For answers that depend on
// what a command did to the engine, not only on how its line parses. Expected
// replies are stock memcached 1.6.18's, checked against /usr/bin/memcached.

import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import type { Backend, ServerSettings } from '../../src/net/backend.js';
import { Chunks } from '../../src/net/output.js';
import { TextProtocol } from '../../src/net/text-protocol.js';

const settings: ServerSettings = {
  host: '127.0.0.1', port: 0, connectionLimit: 10, itemSizeMaxBytes: 1 << 20, verbosity: 0, dataDir: '-',
  fsyncMode: 'always', evictionsDisabled: false, strictKeys: false,
};

/** One connection's protocol over a fresh engine; every write counts as durable at once. */
function connection(): (request: string) => string {
  const engine = new Engine({ memoryLimitBytes: 64 << 20, itemSizeMaxBytes: settings.itemSizeMaxBytes, evictionsDisabled: false });
  const now = 1_700_000_000_000;
  const backend: Backend = {
    engine, now: () => now, ackedSeq: () => Number.MAX_SAFE_INTEGER, onAck: () => {},
    writeAdmission: () => 'ok', whenAdmissible: async () => {}, storageStats: () => [],
  };
  const counters = { currConnections: 1, totalConnections: 1, rejectedConnections: 0, bytesRead: 0, bytesWritten: 0, idleKicks: 0 };
  const protocol = new TextProtocol({ backend, settings: { ...settings }, counters, startedAtMs: now, log: () => {} });
  return (request) => {
    const sink = { reply: new Chunks(), commit: () => {} };
    protocol.push(Buffer.from(request, 'latin1'));
    for (let r = protocol.next(); r !== null; r = protocol.next()) protocol.execute(r, sink);
    return Buffer.concat(sink.reply.take()).toString('latin1');
  };
}

const k251 = 'k'.repeat(251);

describe('text protocol on an engine', () => {
  it('answers a get with a key over 250 bytes with the error alone, not the values found before it', () => {
    const send = connection();
    expect(send('set a 0 0 1\r\nx\r\n')).toBe('STORED\r\n');
    expect(send(`get a ${k251} a\r\n`)).toBe('CLIENT_ERROR bad command line format\r\n');
  });

  it('still touches the keys before a key over 250 bytes in a gat, as memcached does', () => {
    const send = connection();
    expect(send('set a 0 0 1\r\nx\r\nset b 0 0 1\r\ny\r\n')).toBe('STORED\r\nSTORED\r\n');
    // -1: the touched item expires at once; b comes after the bad key and is not touched.
    expect(send(`gat -1 a ${k251} b\r\n`)).toBe('CLIENT_ERROR bad command line format\r\n');
    expect(send('get a b\r\n')).toBe('VALUE b 0 1\r\ny\r\nEND\r\n');
  });
});
