import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes-setup.js';
import { SearchAttributes } from '../../src/model/search-attributes.js';

const execFileAsync = promisify(execFile);

/** Runs the `temporal` CLI with exactly `args` (no env or toml); rejects with its stderr. */
async function rawCli(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(inject('cluster').temporalCli, [...args, '--disable-config-env', '--disable-config-file'], {
      timeout: 30_000,
    });
    return stdout;
  } catch (err) {
    throw new Error(`temporal ${args[0]} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`, { cause: err });
  }
}

/** Runs the `temporal` CLI against the run's frontend with the client certificate (flags only, no env or toml). */
async function temporalCli(args: string[]): Promise<string> {
  const { temporalCli: cli, temporalCliArgs } = inject('cluster');
  const { stdout } = await execFileAsync(cli, [...args, ...temporalCliArgs, '--disable-config-env', '--disable-config-file']);
  return stdout;
}

/** The run's TLS settings for the SDK: its CA, and the client certificate unless `withoutClientCert`. */
async function tlsOptions(withoutClientCert = false) {
  const { certs } = inject('cluster');
  return {
    serverNameOverride: certs.serverName,
    serverRootCACertificate: await readFile(certs.caCert),
    ...(withoutClientCert ? {} : { clientCertPair: { crt: await readFile(certs.clientCert), key: await readFile(certs.clientKey) } }),
  };
}

describe('Temporal server on PostgreSQL, frontend with mTLS', () => {
  const cluster = inject('cluster');
  let connection: Connection;

  beforeAll(async () => {
    connection = await Connection.connect({ address: cluster.temporalAddress, tls: await tlsOptions() });
  });
  afterAll(async () => {
    await connection?.close();
  });

  it('serves a client with the run certificate, on SQL persistence and visibility, with the default namespace', async () => {
    const info = await connection.workflowService.getClusterInfo({});
    expect(info.persistenceStore).toBe('postgres12');
    expect(info.visibilityStore).toBe('postgres12');
    expect(info.serverVersion).toBe('1.29.1');
    const ns = await connection.workflowService.describeNamespace({ namespace: cluster.namespace });
    expect(Number(ns.config?.workflowExecutionRetentionTtl?.seconds)).toBe(72 * 3600);
  });

  it('refuses a client without a certificate and one that does not trust the run CA', async () => {
    const systemInfo = (tls: TLSConfig | undefined) =>
      Connection.connect({ address: cluster.temporalAddress, ...(tls === undefined ? {} : { tls }), connectTimeout: 3_000 }).then((c) =>
        c.workflowService.getSystemInfo({}),
      );
    await expect(systemInfo(await tlsOptions(true))).rejects.toThrow();
    await expect(systemInfo(undefined)).rejects.toThrow();
    // The same with the CLI: the server drops a handshake without a client certificate; the system
    // roots do not know the run CA.
    const { certs } = cluster;
    const noClientCert = ['--address', cluster.temporalAddress, '--tls-ca-path', certs.caCert, '--tls-server-name', certs.serverName];
    await expect(rawCli(['operator', 'cluster', 'health', ...noClientCert])).rejects.toThrow(/failed reaching server/);
    const noCa = [
      '--address',
      cluster.temporalAddress,
      '--tls-cert-path',
      certs.clientCert,
      '--tls-key-path',
      certs.clientKey,
      '--tls-server-name',
      certs.serverName,
    ];
    await expect(rawCli(['operator', 'cluster', 'health', ...noCa])).rejects.toThrow(/unknown authority|certificate/i);
  });

  it("registers FetchBox's search attributes on SQL visibility (ensureSearchAttributes), visible to the temporal CLI", async () => {
    // A namespace of its own, so the `fetchbox worker` tests still find the default one without them.
    const namespace = 'search-attributes-check';
    await temporalCli(['operator', 'namespace', 'create', '--namespace', namespace, '--retention', '24h']).catch((err: Error) => {
      if (!/already/i.test(err.message)) throw err;
    });
    const client = new Client({ connection, namespace });
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
    // The namespace cache of the frontend takes a few seconds to see a new namespace.
    await expect
      .poll(
        async () =>
          connection.operatorService.listSearchAttributes({ namespace }).then(
            () => true,
            () => false,
          ),
        { timeout: 60_000, interval: 500 },
      )
      .toBe(true);
    await ensureSearchAttributes(client, namespace, logger);
    expect(lines.join('\n')).toContain('registered FetchBox search attributes');
    expect(lines.join('\n')).not.toContain('could not check');
    const listed = await connection.operatorService.listSearchAttributes({ namespace });
    for (const key of Object.values(SearchAttributes)) expect(Object.keys(listed.customAttributes ?? {})).toContain(key.name);

    const stdout = await temporalCli(['operator', 'search-attribute', 'list', '--namespace', namespace, '--output', 'json']);
    for (const key of Object.values(SearchAttributes)) expect(stdout).toContain(key.name);
  });
});
