// Reads, at start-up, the files the security options name: the -Y auth file
// and the TLS certificate, key and CA. Any problem (a file that cannot be
// read, an auth file with a malformed line, PEM that does not parse, a key
// that does not match its certificate) is an OptionError naming the option:
// the server refuses to start rather than run open or half-configured.

import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { Credentials, parseAuthFile, type AuthEntry } from '../net/auth.js';
import type { TlsSettings } from '../net/backend.js';
import { OptionError, type ServerOptions } from './options.js';

export interface Security {
  auth?: Credentials;
  tls?: TlsSettings;
}

export async function loadSecurity(o: ServerOptions): Promise<Security> {
  const security: Security = {};
  if (o.authFile !== undefined) security.auth = new Credentials(o.authFile, await loadAuthEntries(o.authFile));
  if (o.tlsCert !== undefined && o.tlsKey !== undefined) security.tls = await loadTls(o.tlsCert, o.tlsKey, o.tlsCa, o.tlsVerifyClient);
  return security;
}

/** The auth file's entries (also for a reload on SIGHUP). */
export async function loadAuthEntries(file: string): Promise<AuthEntry[]> {
  const name = '-Y/--auth-file';
  const parsed = parseAuthFile(await readOption(file, name));
  if (!parsed.ok) throw new OptionError(`${name}: '${file}' line ${parsed.line} is ${parsed.reason}`);
  return parsed.entries;
}

async function loadTls(certFile: string, keyFile: string, caFile: string | undefined, verifyClient: boolean): Promise<TlsSettings> {
  const cert = await readOption(certFile, '--tls-cert');
  const key = await readOption(keyFile, '--tls-key');
  const ca = caFile === undefined ? undefined : await readOption(caFile, '--tls-ca');
  checkSecureContext('--tls-cert/--tls-key', () => createSecureContext({ cert, key }));
  if (ca) checkSecureContext('--tls-ca', () => createSecureContext({ ca }));
  return { cert, key, ca, verifyClient, certFile, keyFile, caFile };
}

async function readOption(file: string, name: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new OptionError(`${name}: cannot read '${file}': ${(err as Error).message}`);
  }
}

function checkSecureContext(name: string, create: () => unknown): void {
  try {
    create();
  } catch (err) {
    throw new OptionError(`${name}: ${(err as Error).message}`);
  }
}
