// Chooses a connection's protocol from its first byte, as memcached's
// `-B auto`: 0x80 is the magic of a binary request, anything else is text.

import type { Protocol, ServerContext } from './protocol.js';
import { TextProtocol } from './text-protocol.js';

const binary_request_magic = 0x80;

/** The protocol for a connection whose first byte is `firstByte`, or null to close it. */
export function createProtocol(firstByte: number, ctx: ServerContext): Protocol | null {
  if (firstByte === binary_request_magic) {
    ctx.log(1, 'binary protocol is not supported yet: closing the connection');
    return null;
  }
  return new TextProtocol(ctx) as Protocol;
}
