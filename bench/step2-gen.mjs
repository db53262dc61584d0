#!/usr/bin/env node
// bench/step2-gen.mjs OUT_DIR N UPDATES
//
// Writes the step2 data set (see step2-data.mjs) into OUT_DIR:
//   dump.jsonl          N items for `memcached-lite load`, one
//                       {"k":key,"v":base64,"f":0,"e":0,"c":0} per line
//   redis-load.resp     the same N items as RESP "SET key value" commands
//                       (for redis-cli --pipe)
//   redis-updates.resp  UPDATES overwrites (generation 1 values) of distinct
//                       keys, the same ones step2-client.mjs `sets` sends to
//                       memcached-lite
// Prints one JSON line with the file sizes.

import { openSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { key, value, updateIndex } from './step2-data.mjs';

const [outDir, nText, uText] = process.argv.slice(2);
const n = Number(nText), updates = Number(uText);
if (!outDir || !Number.isInteger(n) || n <= 0 || !Number.isInteger(updates) || updates < 0 || updates > n) {
  console.error('usage: node bench/step2-gen.mjs OUT_DIR N UPDATES   (0 <= UPDATES <= N)');
  process.exit(2);
}

function writer(path) {
  const fd = openSync(path, 'w');
  let buf = '';
  return {
    put(s) { buf += s; if (buf.length >= 1 << 20) { writeSync(fd, buf, null, 'latin1'); buf = ''; } },
    close() { if (buf) writeSync(fd, buf, null, 'latin1'); closeSync(fd); },
  };
}
const resp = (k, v) => `*3\r\n$3\r\nSET\r\n$${k.length}\r\n${k}\r\n$${v.length}\r\n${v}\r\n`;

const dump = writer(join(outDir, 'dump.jsonl'));
const rload = writer(join(outDir, 'redis-load.resp'));
for (let i = 0; i < n; i++) {
  const k = key(i), v = value(i, 0);
  dump.put(`{"k":"${k}","v":"${Buffer.from(v, 'latin1').toString('base64')}","f":0,"e":0,"c":0}\n`);
  rload.put(resp(k, v));
}
dump.close();
rload.close();
const rupd = writer(join(outDir, 'redis-updates.resp'));
for (let j = 0; j < updates; j++) {
  const i = updateIndex(j, n);
  rupd.put(resp(key(i), value(i, 1)));
}
rupd.close();

const size = (f) => statSync(join(outDir, f)).size;
console.log(JSON.stringify({
  items: n, updates,
  dump_jsonl_bytes: size('dump.jsonl'), redis_load_resp_bytes: size('redis-load.resp'), redis_updates_resp_bytes: size('redis-updates.resp'),
}));
