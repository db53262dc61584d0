// Chooses a connection's protocol from its first byte, as memcached's
// `-B auto`: 0x80 is the magic of a binary request, anything else is text.
//
// With an auth file (-Y) memcached speaks ASCII only: it forces its binding
// protocol to ascii, so a binary frame is read as an ASCII authentication
// line (answered "CLIENT_ERROR unauthenticated", or the connection closed
// after 2048 bytes without a newline), and it refuses to start with -B
// binary or -B auto (memcached.c, proto_text.c try_read_command_asciiauth).

import { request_magic } from './binary-format.js';
import { BinaryProtocol } from './binary-protocol.js';
import type { Protocol, ServerContext } from './protocol.js';
import { TextProtocol } from './text-protocol.js';

/** The protocol for a connection whose first byte is `firstByte`, or null to close it. */
export function createProtocol(firstByte: number, ctx: ServerContext): Protocol | null {
  const asciiOnly = false; // -Y HOOK: `ctx.settings.authFile !== undefined` once ServerSettings has the auth file (memcached: no binary with -Y)
  if (firstByte === request_magic && !asciiOnly) return new BinaryProtocol(ctx) as Protocol;
  return new TextProtocol(ctx) as Protocol;
}
