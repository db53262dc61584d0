// Before measuring a memcached-protocol server: check it answers, and record
// what it is: its `version`, and from `stats settings` its fsync mode if it
// has one (memcached-lite lists `fsync always|everysec|no`; stock memcached
// keeps items in memory only and lists none).

import { connect } from 'node:net';

export interface MemcachedInfo {
  version: string | null;
  durability: string | null;
}

/** Lines of the replies to `version` and `stats settings`, up to the END of the stats. */
function exchange(host: string, port: number, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let text = '';
    const fail = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no reply within ${timeoutMs} ms`)));
    socket.on('error', fail);
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (!/(^|\r\n)(END|ERROR)\r\n$/.test(text.slice(text.indexOf('\r\n') + 2))) return;
      socket.destroy();
      resolve(text.split('\r\n'));
    });
    socket.on('close', () => fail(new Error(`connection closed; got ${JSON.stringify(text)}`)));
    socket.write('version\r\nstats settings\r\n');
  });
}

export async function memcachedInfo(host: string, port: number, timeoutMs: number): Promise<MemcachedInfo> {
  const lines = await exchange(host, port, timeoutMs);
  const version = lines[0]?.startsWith('VERSION ') ? lines[0].slice('VERSION '.length) : null;
  const fsync = lines.find((l) => l.startsWith('STAT fsync '))?.slice('STAT fsync '.length);
  return { version, durability: fsync ? `fsync ${fsync}` : null };
}
