// Start-up reading of the auth file and TLS material: what loads, and the
// OptionError (naming the option) for every way a file can be wrong.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultOptions, OptionError, type ServerOptions } from '../../src/cli/options.js';
import { loadSecurity } from '../../src/cli/security.js';
import { makeCerts, type Certs } from '../certs.js';

let dir: string;
let certs: Certs;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mcl-security-'));
  certs = makeCerts(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const load = (o: Partial<ServerOptions>) => loadSecurity({ ...defaultOptions, ...o });

async function refusal(o: Partial<ServerOptions>): Promise<string> {
  const err = await load(o).then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(OptionError);
  return (err as Error).message;
}

describe('loadSecurity', () => {
  it('loads nothing when no option asks for it', async () => {
    expect(await load({})).toEqual({});
  });

  it('loads the auth file into credentials', async () => {
    const path = file('auth.txt', 'alice:secret\nbob:pw2\n');
    const { auth } = await load({ authFile: path });
    expect(auth?.file).toBe(path);
    expect(auth?.size).toBe(2);
    expect(auth?.check(Buffer.from('bob'), Buffer.from('pw2'))).toBe(true);
  });

  it('refuses an auth file it cannot read, or with a malformed line', async () => {
    const missing = join(dir, 'missing.txt');
    expect(await refusal({ authFile: missing })).toBe(`-Y/--auth-file: cannot read '${missing}': ENOENT: no such file or directory, open '${missing}'`);
    expect(await refusal({ authFile: dir })).toMatch(/^-Y\/--auth-file: cannot read '.*': EISDIR/);
    const bad = file('bad.txt', 'alice:secret\njustaname\n');
    expect(await refusal({ authFile: bad })).toBe(`-Y/--auth-file: '${bad}' line 2 is not 'user:password'`);
  });

  it('loads a certificate, its key and a CA', async () => {
    const { tls } = await load({ tlsCert: certs.serverCert, tlsKey: certs.serverKey, tlsCa: certs.caCert, tlsVerifyClient: true });
    expect(tls).toMatchObject({ certFile: certs.serverCert, keyFile: certs.serverKey, caFile: certs.caCert, verifyClient: true });
    expect(tls?.cert.toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(tls?.key.toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(tls?.ca?.toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('refuses missing, garbled or mismatched TLS files, naming the option', async () => {
    const server = { tlsCert: certs.serverCert, tlsKey: certs.serverKey };
    expect(await refusal({ ...server, tlsKey: join(dir, 'nope.key') })).toMatch(/^--tls-key: cannot read/);
    expect(await refusal({ ...server, tlsCert: file('garbage.crt', 'not a certificate\n') })).toMatch(/^--tls-cert: not PEM it can use/);
    expect(await refusal({ ...server, tlsCert: file('empty.crt', '') })).toMatch(/^--tls-cert: not PEM it can use/);
    expect(await refusal({ ...server, tlsKey: certs.serverCert })).toMatch(/^--tls-key: not PEM it can use/);
    expect(await refusal({ ...server, tlsKey: certs.clientKey })).toBe('--tls-key: the key does not match the --tls-cert certificate');
    expect(await refusal({ ...server, tlsCa: file('garbage-ca.crt', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n') })).toMatch(/^--tls-ca: not PEM it can use/);
    expect(await refusal({ ...server, tlsCa: file('text-ca.crt', 'hello\n') })).toBe('--tls-ca: no PEM certificate in the file');
  });
});
