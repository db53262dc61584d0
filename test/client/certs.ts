// Throwaway TLS material for tests, made with the openssl CLI in a temp dir:
// a CA, a server certificate for localhost / 127.0.0.1 and a client
// certificate, both signed by the CA (P-256 keys: fast to make).

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Certs {
  dir: string;
  /** File paths. */
  caCert: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string;
  /** PEM contents, for node:tls options. */
  ca: Buffer; cert: Buffer; key: Buffer;
}

const openssl = (dir: string, args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' }); };
const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function signed(dir: string, name: string, subject: string, ext: string): void {
  openssl(dir, ['req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

export function makeCerts(dir: string): Certs {
  openssl(dir, ['req', '-x509', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=memcached-lite test CA']);
  signed(dir, 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  signed(dir, 'client', '/CN=test-client', 'extendedKeyUsage=clientAuth\n');
  const path = (f: string) => join(dir, f);
  return {
    dir,
    caCert: path('ca.crt'), serverCert: path('server.crt'), serverKey: path('server.key'), clientCert: path('client.crt'), clientKey: path('client.key'),
    ca: readFileSync(path('ca.crt')), cert: readFileSync(path('client.crt')), key: readFileSync(path('client.key')),
  };
}

/** memcached arguments for TLS with these certificates; verifyMode 2 requires a client certificate. */
export function memcachedTlsArgs(c: Certs, verifyMode = 0): string[] {
  return ['-Z', '-o', `ssl_chain_cert=${c.serverCert},ssl_key=${c.serverKey},ssl_ca_cert=${c.caCert},ssl_verify_mode=${verifyMode}`];
}
