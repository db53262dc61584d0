// Reads, at start-up, the files the security options name: the -Y auth file
// and the TLS certificate, key and CA. Any problem (a file that cannot be
// read, an auth file with a malformed line, PEM that does not parse, a key
// that does not match its certificate; node:tls itself would accept the last
// two and fail every handshake) is an OptionError naming the option:
// the server refuses to start rather than run open or half-configured.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
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
  const certificate = parsed('--tls-cert', () => new X509Certificate(cert));
  const privateKey = parsed('--tls-key', () => createPrivateKey(key));
  if (!certificate.checkPrivateKey(privateKey)) throw new OptionError('--tls-key: the key does not match the --tls-cert certificate');
  if (ca) checkCaBundle(ca);
  return { cert, key, ca, verifyClient, certFile, keyFile, caFile };
}

/** Every certificate of a PEM bundle must parse; node:tls would silently skip bad ones and trust nothing. */
function checkCaBundle(pem: Buffer): void {
  const blocks = pem.toString('latin1').match(/-----BEGIN CERTIFICATE-----[^-]*-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) throw new OptionError('--tls-ca: no PEM certificate in the file');
  for (const block of blocks) parsed('--tls-ca', () => new X509Certificate(block));
}

async function readOption(file: string, name: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new OptionError(`${name}: cannot read '${file}': ${(err as Error).message}`);
  }
}

function parsed<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new OptionError(`${name}: not PEM it can use (${(err as Error).message})`);
  }
}
