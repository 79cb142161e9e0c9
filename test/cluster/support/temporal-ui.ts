import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ClusterInfo } from './cluster.js';
import { startProcess, waitUntil, type ClusterProcess } from './processes.js';

/** A Temporal Web UI server of one test file, reaching the run's frontend over mTLS. */
export interface RunningTemporalUi {
  /** http://127.0.0.1:<port>: the UI and its HTTP API (/api/v1/...). */
  url: string;
  process: ClusterProcess;
  /** Milliseconds from spawning the server until its API reached the frontend. */
  readyMs: number;
  stop(): Promise<void>;
}

/** A free loopback port (the UI server binds it right after; nothing else in the run races for it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The UI server's config (keys of ui-server's server/config/config.go), as an operator writes it
 * for a frontend with mTLS: the run's CA, the client certificate FetchBox uses, host verification
 * on for the server certificate's name, auth off, bound to loopback only.
 */
export function temporalUiConfig(cluster: ClusterInfo, port: number): string {
  const { certs } = cluster;
  return [
    `temporalGrpcAddress: ${cluster.temporalAddress}`,
    'host: 127.0.0.1',
    `port: ${port}`,
    'publicPath: ""',
    'enableUi: true',
    `defaultNamespace: ${cluster.namespace}`,
    'notifyOnNewVersion: false',
    'hideLogs: true',
    'auth:',
    '  enabled: false',
    'tls:',
    `  caFile: ${JSON.stringify(certs.caCert)}`,
    `  certFile: ${JSON.stringify(certs.clientCert)}`,
    `  keyFile: ${JSON.stringify(certs.clientKey)}`,
    `  serverName: ${certs.serverName}`,
    '  enableHostVerification: true',
    '',
  ].join('\n');
}

/**
 * Starts the Temporal Web UI server (built by scripts/cluster/install.sh at the version the
 * pinned CLI embeds) against the run's frontend, so a test can check what an operator sees in the
 * UI through the same HTTP API the UI's pages call. Ready once GET /api/v1/cluster-info answers
 * 200, which needs the gRPC connection to the frontend, not just the HTTP listener.
 */
export async function startTemporalUi(cluster: ClusterInfo): Promise<RunningTemporalUi> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-ui-'));
  const port = await freePort();
  await mkdir(path.join(dir, 'config'));
  await writeFile(path.join(dir, 'config', 'fetchbox.yaml'), temporalUiConfig(cluster, port));
  const started = Date.now();
  const proc = startProcess(
    'temporal-ui-server',
    cluster.temporalUiServer,
    ['--root', dir, '--config', 'config', '--env', 'fetchbox', 'start'],
    path.join(dir, 'ui.log'),
  );
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil('temporal-ui-server', async () => (await fetch(`${url}/api/v1/cluster-info`)).status === 200, 30_000, proc);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, process: proc, readyMs: Date.now() - started, stop };
}
