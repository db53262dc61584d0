// Chooses a connection's protocol from its first byte, as memcached's
// `-B auto`: 0x80 is the magic of a binary request, anything else is text.
// With -Y/--auth-file the text protocol sits behind the login gate
// (auth-gate.ts), and binary connections are refused: memcached then binds
// ASCII only, since binary clients authenticate by SASL, which -Y bypasses.

import { AuthGate } from './auth-gate.js';
import type { Protocol, ServerContext } from './protocol.js';
import { TextProtocol } from './text-protocol.js';

const binary_request_magic = 0x80;

/** The protocol for a connection whose first byte is `firstByte`, or null to close it. */
export function createProtocol(firstByte: number, ctx: ServerContext): Protocol | null {
  const auth = ctx.settings.auth;
  if (auth && firstByte === binary_request_magic) {
    ctx.log(1, 'binary protocol refused: -Y/--auth-file allows only the text protocol; closing the connection');
    return null;
  }
  if (firstByte === binary_request_magic) {
    ctx.log(1, 'binary protocol is not supported yet: closing the connection');
    return null;
  }
  const text = new TextProtocol(ctx) as Protocol;
  return auth ? new AuthGate(ctx, auth, text) : text;
}
