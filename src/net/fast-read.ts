// Faster reads for accepted connections: Node's `onread` socket option hands
// each read to a callback in a caller-owned buffer, skipping the Readable
// stream machinery and the fresh Buffer Node allocates for every read (about
// a fifth of the server's CPU per small request, measured with memcaslap).
//
// net.Server has no onread option, so an accepted socket's handle is moved to
// a new Socket created with it. The accepted Socket is detached first (its
// handle cleared) and destroyed, which keeps net.Server's connection count
// right and cannot close the handle. This uses Socket._handle, an internal
// of Node; if it is missing, adopt() returns null and the caller keeps the
// accepted socket with ordinary 'data' events.
//
// Invariant for callers: the chunk passed to onData is only valid during the
// call (one buffer is shared by every connection, since reads and their
// callbacks run one at a time on the event loop). Whatever must outlive the
// call has to be copied.

import { Socket } from 'node:net';

const read_buffer_bytes = 64 * 1024;
const shared = Buffer.allocUnsafe(read_buffer_bytes);

type Handle = object;

export function adoptWithSharedReadBuffer(accepted: Socket, onData: (chunk: Buffer) => void): Socket | null {
  const internals = accepted as unknown as { _handle: Handle | null };
  const handle = internals._handle;
  if (!handle || typeof handle !== 'object') return null;
  internals._handle = null;
  accepted.destroy();
  return new Socket({
    handle,
    allowHalfOpen: true,
    onread: { buffer: shared, callback: (bytes: number) => { onData(shared.subarray(0, bytes)); } },
  } as unknown as ConstructorParameters<typeof Socket>[0]);
}
