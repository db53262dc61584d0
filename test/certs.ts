// Throwaway TLS material for tests, made with the openssl command line (P-256
// keys, valid two days): a CA, a server certificate for 127.0.0.1/localhost
// signed by it, a client certificate signed by it, and a client certificate
// signed by another ("rogue") CA that the server must refuse.

import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Certs {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  rogueClientCert: string;
  rogueClientKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`]);
}

function makeSigned(dir: string, name: string, ca: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
  openssl(dir, ['req', ...ecKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** Writes the files into `dir` (which must exist) and returns their paths. */
export function makeCerts(dir: string): Certs {
  makeCa(dir, 'ca');
  makeCa(dir, 'rogue-ca');
  makeSigned(dir, 'server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost');
  makeSigned(dir, 'client', 'ca', 'extendedKeyUsage=clientAuth');
  makeSigned(dir, 'rogue-client', 'rogue-ca', 'extendedKeyUsage=clientAuth');
  const at = (file: string) => join(dir, file);
  return {
    caCert: at('ca.crt'), serverCert: at('server.crt'), serverKey: at('server.key'), clientCert: at('client.crt'), clientKey: at('client.key'),
    rogueClientCert: at('rogue-client.crt'), rogueClientKey: at('rogue-client.key'),
  };
}
