import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../../src/temporal/temporal-cli.js';
import { freePort } from '../../support/ports.js';
import type { ClusterInfo } from './cluster.js';
import { startProcess, waitUntil, type ClusterProcess } from './processes.js';

/** A `fetchbox worker` or `fetchbox api` process of a cluster test. */
export interface FetchBoxProcess {
  role: 'worker' | 'api';
  process: ClusterProcess;
  /** The API's base URL (api only). */
  url?: string;
  /** Its pino log lines, parsed. */
  logs(): Promise<Record<string, unknown>[]>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * The environment an operator gives FetchBox to reach this cluster: Temporal's standard variables
 * (envconfig: address, namespace, TLS files and server name), the task queue, S3 storage on the
 * run's MinIO with AWS credentials, and loopback origins allowed. Nothing of the parent's
 * TEMPORAL_*, FETCHBOX_* or AWS_* settings leaks in, and no temporal.toml is read.
 */
export function clusterEnv(cluster: ClusterInfo, taskQueue: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(TEMPORAL_|FETCHBOX_|AWS_)/.test(k)));
  return {
    ...inherited,
    TEMPORAL_CONFIG_FILE: '',
    TEMPORAL_ADDRESS: cluster.temporalAddress,
    TEMPORAL_NAMESPACE: cluster.namespace,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: cluster.certs.caCert,
    TEMPORAL_TLS_CLIENT_CERT_PATH: cluster.certs.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: cluster.certs.clientKey,
    TEMPORAL_TLS_SERVER_NAME: cluster.certs.serverName,
    TEMPORAL_TASK_QUEUE: taskQueue,
    FETCHBOX_STORAGE_URL: `s3://${cluster.minio.bucket}/${taskQueue}`,
    FETCHBOX_S3_ENDPOINT: cluster.minio.endpoint,
    FETCHBOX_S3_FORCE_PATH_STYLE: 'true',
    FETCHBOX_S3_REGION: cluster.minio.region,
    AWS_ACCESS_KEY_ID: cluster.minio.accessKeyId,
    AWS_SECRET_ACCESS_KEY: cluster.minio.secretAccessKey,
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8,::1/128',
    FETCHBOX_WORKFLOW_BUNDLE: cluster.workflowBundlePath,
    FETCHBOX_WORKER_METRICS_PORT: '-1',
    FETCHBOX_LOG_LEVEL: 'info',
    ...extra,
  };
}

async function parsedLogs(file: string): Promise<Record<string, unknown>[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Starts `node bin/fetchbox.js <role>` (the built CLI, as deployed) with `env`, in its own process
 * group, and waits until it logs that it runs (worker) or answers /readyz (api). The API listens
 * on a free loopback port. Its log and temp dir go away on stop.
 */
export async function startFetchBox(role: 'worker' | 'api', env: NodeJS.ProcessEnv): Promise<FetchBoxProcess> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `fetchbox-${role}-`));
  const port = role === 'api' ? await freePort() : undefined;
  const logFile = path.join(dir, `${role}.log`);
  const proc = startProcess(`fetchbox ${role}`, process.execPath, [path.join(projectRoot, 'bin', 'fetchbox.js'), role], logFile, {
    cwd: dir,
    env: { ...env, FETCHBOX_DATA_DIR: dir, ...(port ? { FETCHBOX_API_HOST: '127.0.0.1', FETCHBOX_API_PORT: String(port) } : {}) },
  });
  const url = port ? `http://127.0.0.1:${port}` : undefined;
  const ready =
    role === 'api'
      ? async () => (await fetch(`${url}/readyz`)).ok
      : async () => (await parsedLogs(logFile)).some((line) => line.msg === 'worker running');
  await waitUntil(`fetchbox ${role}`, ready, 120_000, proc);
  return {
    role,
    process: proc,
    ...(url ? { url } : {}),
    logs: () => parsedLogs(logFile),
    async stop(signal = 'SIGTERM') {
      await proc.stop(signal, 60_000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
