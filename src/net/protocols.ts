// Chooses a connection's protocol from its first byte, as memcached's
// `-B auto`: 0x80 is the magic of a binary request, anything else is text.
//
// With -Y/--auth-file the text protocol sits behind the login gate
// (auth-gate.ts), and binary connections are refused: memcached then binds
// ASCII only, since binary clients authenticate by SASL, which -Y bypasses.
// (Stock memcached -Y reads a binary frame as an ASCII login line instead,
// answering "CLIENT_ERROR unauthenticated" or closing after 2048 bytes
// without a newline; closing at once tells a binary client the same sooner.)

import { request_magic } from './binary-format.js';
import { BinaryProtocol } from './binary-protocol.js';
import { AuthGate } from './auth-gate.js';
import type { Protocol, ServerContext } from './protocol.js';
import { TextProtocol } from './text-protocol.js';

/** The protocol for a connection whose first byte is `firstByte`, or null to close it. */
export function createProtocol(firstByte: number, ctx: ServerContext): Protocol | null {
  const auth = ctx.settings.auth;
  if (firstByte === request_magic) {
    if (!auth) return new BinaryProtocol(ctx) as Protocol;
    ctx.log(1, 'binary protocol refused: -Y/--auth-file allows only the text protocol; closing the connection');
    return null;
  }
  const text = new TextProtocol(ctx) as Protocol;
  return auth ? new AuthGate(ctx, auth, text) : text;
}
