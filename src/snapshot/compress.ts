// Keeping the fallback snapshot gzipped: after a compaction the data
// directory holds the new snapshot, the previous one (recovery's fallback if
// the new one is ever damaged) and the WAL since the previous one. Stored as
// it is, that is more than twice the live data; gzipped (level 1, ~45% of
// the size for JSON Lines with base64 values) it is about 1.5 times.
//
// The file is compressed in 1 MB pieces, each an independent gzip member
// (a multi-member gzip file is one file to gunzip and zcat), on the zlib
// thread pool, so the event loop keeps serving; after each piece it pauses
// twice as long as the piece took, so on a machine with a single core for
// the server, background compression takes at most a third of it. Replacement is durable and
// checked: <name>.gz.tmp is written and fsynced, read back and gunzipped to
// the same bytes (length and CRC-32) as the original, renamed to <name>.gz,
// the directory fsynced, and only then the original removed. On any failure
// the temp file goes and the original stays.

import { once } from 'node:events';
import { promisify } from 'node:util';
import { createGunzip, crc32, gzip } from 'node:zlib';
import { dirname } from 'node:path';
import type { Disk } from '../wal/disk.js';
import { openReader, readFully, type SnapshotRef } from './snapshot.js';

const gzipAsync = promisify(gzip);
const piece_bytes = 1024 * 1024;
/** Pause after each piece, as a multiple of the time the piece took. */
const pause_factor = 2;

interface Digest { bytes: number; crc: number }

/** Replaces a plain snapshot file by its gzipped copy; resolves to the new ref. */
export async function compressSnapshot(disk: Disk, ref: SnapshotRef): Promise<SnapshotRef> {
  const target = `${ref.path}.gz`;
  const tmp = `${target}.tmp`;
  try {
    const original = await writeCompressed(disk, ref.path, tmp);
    const copy = await gunzippedDigest(disk, tmp);
    if (copy.bytes !== original.bytes || copy.crc !== original.crc) {
      throw new Error(`the compressed copy of ${ref.name} does not read back to the same bytes`);
    }
    await disk.rename(tmp, target);
    await disk.syncDir(dirname(target));
  } catch (err) {
    await disk.unlink(tmp).catch(() => {});
    throw err;
  }
  await disk.unlink(ref.path);
  await disk.syncDir(dirname(target));
  return { startSeq: ref.startSeq, path: target, name: `${ref.name}.gz`, compressed: true };
}

/** Writes `to` as gzip members of `from`'s pieces and fsyncs it; the digest of what was read. */
async function writeCompressed(disk: Disk, from: string, to: string): Promise<Digest> {
  const reader = await openReader(disk, from);
  const out = await disk.open(to, true);
  try {
    await out.truncate(0);
    const piece = Buffer.allocUnsafe(Math.min(piece_bytes, Math.max(1, reader.size)));
    const digest: Digest = { bytes: 0, crc: 0 };
    let position = 0;
    for (let at = 0; at < reader.size;) {
      const n = Math.min(piece.length, reader.size - at);
      await readFully(reader, piece, 0, n, at);
      at += n;
      digest.bytes += n;
      digest.crc = crc32(piece.subarray(0, n), digest.crc);
      const started = performance.now();
      const member = await gzipAsync(piece.subarray(0, n), { level: 1 });
      await new Promise((r) => setTimeout(r, (performance.now() - started) * pause_factor));
      for (let done = 0; done < member.length;) done += await out.write(member, done, member.length - done, position + done);
      position += member.length;
    }
    await out.datasync();
    return digest;
  } finally {
    await out.close();
    await reader.close();
  }
}

/** Length and CRC-32 of what a gzip file decompresses to, streaming it. */
async function gunzippedDigest(disk: Disk, path: string): Promise<Digest> {
  const reader = await openReader(disk, path); // a .gz.tmp name: read as it is
  const gunzip = createGunzip();
  const digest: Digest = { bytes: 0, crc: 0 };
  gunzip.on('data', (d: Buffer) => { digest.bytes += d.length; digest.crc = crc32(d, digest.crc); });
  const ended = once(gunzip, 'end');
  ended.catch(() => {}); // awaited below; this only keeps an early error from being unhandled
  try {
    for (let at = 0; at < reader.size;) {
      const n = Math.min(piece_bytes, reader.size - at);
      const chunk = Buffer.allocUnsafe(n);
      await readFully(reader, chunk, 0, n, at);
      at += n;
      if (!gunzip.write(chunk)) await Promise.race([once(gunzip, 'drain'), ended]);
    }
    gunzip.end();
    await ended;
    return digest;
  } finally {
    gunzip.destroy();
    await reader.close();
  }
}
