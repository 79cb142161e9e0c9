import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run } from './processes.js';

/** PEM files of one run: a CA, the frontend's server certificate and a client certificate. */
export interface RunCertificates {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The name the server certificate is valid for (clients pass it as TLS server name). */
  serverName: string;
}

/** Extensions by certificate role: the server is valid for loopback by name and by address. */
const EXTENSIONS = {
  server: [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ],
  client: [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=clientAuth',
    'subjectAltName=DNS:fetchbox-client',
  ],
} as const;

/**
 * Generates fresh certificates with openssl (ECDSA P-256, valid two days) into `dir`, so every
 * run has its own CA and nothing secret is stored in the repository. The server certificate is
 * for `localhost` and 127.0.0.1; the client certificate is what FetchBox, the `temporal` CLI
 * and Temporal's own system worker present to the frontend, which requires one (mTLS).
 */
export async function generateCertificates(dir: string): Promise<RunCertificates> {
  const file = (name: string) => path.join(dir, name);
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', [
    'req',
    '-x509',
    ...ecKey,
    '-keyout',
    file('ca.key'),
    '-out',
    file('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=FetchBox cluster test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  for (const role of ['server', 'client'] as const) {
    await run('openssl', ['req', ...ecKey, '-keyout', file(`${role}.key`), '-out', file(`${role}.csr`), '-subj', `/CN=fetchbox-${role}`]);
    await writeFile(file(`${role}.ext`), `${EXTENSIONS[role].join('\n')}\n`);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file(`${role}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${role}.pem`),
      '-days',
      '2',
      '-sha256',
      '-extfile',
      file(`${role}.ext`),
    ]);
  }
  return {
    dir,
    caCert: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server.key'),
    clientCert: file('client.pem'),
    clientKey: file('client.key'),
    serverName: 'localhost',
  };
}
