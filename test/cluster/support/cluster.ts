import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { projectRoot } from '../../../src/temporal/temporal-cli.js';
import { workflowsPath } from '../../../src/worker/create-worker.js';
import { startMinio, type MinioInfo, type RunningMinio } from '../../support/minio.js';
import { generateCertificates, type RunCertificates } from './certs.js';
import { startPostgres, type RunningPostgres } from './postgres.js';
import { setupSchema, startTemporalServer, type RunningTemporal, type TemporalBinaries } from './temporal-server.js';

/** What a cluster test needs to reach the run's servers (plain data: it crosses to test workers). */
export interface ClusterInfo {
  temporalAddress: string;
  namespace: string;
  certs: RunCertificates;
  /** `temporal` CLI binary and the flags that reach the frontend with the client certificate. */
  temporalCli: string;
  temporalCliArgs: string[];
  /** The Temporal Web UI server binary (scripts/cluster/install.sh); tests start it as they need it. */
  temporalUiServer: string;
  minio: MinioInfo;
  postgres: { host: string; port: number };
  /** The workflow bundle every `fetchbox worker` of the run loads (FETCHBOX_WORKFLOW_BUNDLE). */
  workflowBundlePath: string;
}

/** A running cluster: PostgreSQL, the Temporal server on it (mTLS frontend) and MinIO. */
export interface RunningCluster {
  info: ClusterInfo;
  temporal: RunningTemporal;
  postgres: RunningPostgres;
  minio: RunningMinio;
  /** Milliseconds each start step took, for the run's report. */
  timings: Record<string, number>;
  stop(): Promise<void>;
}

/** Bundles the workflow code once, as `npm run bundle:workflows` does for the image. */
async function writeWorkflowBundle(file: string): Promise<void> {
  const silent = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} };
  const bundle = await bundleWorkflowCode({ workflowsPath: workflowsPath(), logger: silent });
  await writeFile(file, bundle.code);
}

/** `name=path` lines of an install script (it builds or installs what is missing, logging to stderr). */
function scriptOutput(script: string, env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  const out = execFileSync('bash', [path.join(projectRoot, 'scripts', ...script.split('/'))], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  return new Map(
    out
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

function required(values: Map<string, string>, name: string, script: string): string {
  const value = values.get(name);
  if (!value) throw new Error(`${script} did not provide ${name}`);
  return value;
}

/**
 * Installs what is missing (scripts/cluster/install.sh, scripts/tools.sh), then starts a fresh
 * cluster for one run, every server a separate OS process on loopback: certificates generated
 * with openssl, PostgreSQL in a temp dir, the schema created with Temporal's SQL tool, the
 * Temporal server with TLS on its frontend and the `default` namespace, and MinIO with a bucket.
 * `stop()` ends every process group and removes every temp dir.
 */
export async function startCluster(): Promise<RunningCluster> {
  const timings: Record<string, number> = {};
  const time = async <T>(name: string, step: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await step();
    } finally {
      timings[name] = Date.now() - started;
    }
  };
  const installed = await time('install', async () => scriptOutput('cluster/install.sh'));
  const tools = scriptOutput('tools.sh', { ...process.env, FETCHBOX_TOOLS_PROMTOOL: '0' });
  const bin: TemporalBinaries = {
    server: required(installed, 'temporal-server', 'scripts/cluster/install.sh'),
    sqlTool: required(installed, 'temporal-sql-tool', 'scripts/cluster/install.sh'),
    schemaDir: required(installed, 'schema', 'scripts/cluster/install.sh'),
    cli: required(tools, 'temporal', 'scripts/tools.sh'),
  };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-cluster-'));
  let postgres: RunningPostgres | undefined;
  let minio: RunningMinio | undefined;
  let temporal: RunningTemporal | undefined;
  const stop = async () => {
    await temporal?.stop();
    await Promise.all([postgres?.stop(), minio?.stop()]);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const workflowBundlePath = path.join(dir, 'workflow-bundle.js');
    const [certs] = await Promise.all([
      time('certificates', () => generateCertificates(dir)),
      time('minio', async () => void (minio = await startMinio(required(tools, 'minio', 'scripts/tools.sh'), 'fetchbox-cluster'))),
      time(
        'postgres',
        async () => void (postgres = await startPostgres(required(installed, 'postgres-bin', 'scripts/cluster/install.sh'))),
      ),
      time('workflow bundle', () => writeWorkflowBundle(workflowBundlePath)),
    ]);
    await time('schema', () => setupSchema(bin, postgres!));
    temporal = await time('temporal', () => startTemporalServer({ bin, postgres: postgres!, certs, dir }));
    const info: ClusterInfo = {
      temporalAddress: temporal.address,
      namespace: temporal.namespace,
      certs,
      temporalCli: bin.cli,
      temporalCliArgs: temporal.cliArgs(),
      temporalUiServer: required(installed, 'temporal-ui-server', 'scripts/cluster/install.sh'),
      minio: {
        endpoint: minio!.endpoint,
        accessKeyId: minio!.accessKeyId,
        secretAccessKey: minio!.secretAccessKey,
        bucket: minio!.bucket,
        region: minio!.region,
      },
      postgres: { host: postgres!.host, port: postgres!.port },
      workflowBundlePath,
    };
    return { info, temporal, postgres: postgres!, minio: minio!, timings, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
