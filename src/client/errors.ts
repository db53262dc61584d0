// The errors the client library rejects with. Each says which of three
// things went wrong, because callers react differently to each:
//
//   MemcachedError   the server answered with an error line (ERROR,
//                    CLIENT_ERROR ..., SERVER_ERROR ...): the request reached
//                    it and was refused; the connection stays usable.
//   ConnectionError  no answer: the server could not be reached, the
//                    connection dropped with the request in flight, or the
//                    client was closed. The request may or may not have been
//                    applied. Later requests reconnect.
//   TimeoutError     no answer within the request's timeout (a kind of
//                    ConnectionError: the connection it was sent on is
//                    closed, because its reply stream is now out of step).
//
// Invalid arguments (a key with a space, a negative delta) are
// ArgumentErrors (a TypeError), thrown before anything is sent.

/** An argument the protocol cannot carry; nothing was sent. */
export class ArgumentError extends TypeError {}

/** The server's error reply line, e.g. "CLIENT_ERROR bad data chunk". */
export class MemcachedError extends Error {
  constructor(readonly line: string) { super(line); }
}

/** The request got no reply from `server` ("host:port"). */
export class ConnectionError extends Error {
  constructor(readonly server: string, message: string, options?: { cause?: unknown }) {
    super(`${server}: ${message}`, options);
  }
}

export class TimeoutError extends ConnectionError {}

/** Login refused: the server's reply to the authentication `set`. */
export class AuthError extends ConnectionError {}

/** A reply the client cannot read: the connection is closed. */
export class ProtocolError extends ConnectionError {}

/** ERROR, ERROR <text>, CLIENT_ERROR <text>, SERVER_ERROR <text>. */
export function isErrorLine(line: string): boolean {
  return line === 'ERROR' || line.startsWith('ERROR ') || line.startsWith('CLIENT_ERROR') || line.startsWith('SERVER_ERROR');
}
