import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { findTemporalCli, projectRoot, startDevServer, type DevServer } from '../../src/temporal/temporal-cli.js';
import { workflowsPath } from '../../src/worker/create-worker.js';
import { startMinio, type MinioInfo, type RunningMinio } from './minio.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    /** The temporal CLI the run's dev server runs on, for tests that start a server of their own. */
    temporalCli: string;
    minio: MinioInfo;
    workflowBundlePath: string;
  }
}

/** Finds `name=path` in the output of scripts/tools.sh, which builds what is missing. */
function toolFromScript(name: string): string {
  const out = execFileSync('bash', [path.join(projectRoot, 'scripts', 'tools.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = out.split('\n').find((l) => l.startsWith(`${name}=`));
  if (!line) throw new Error(`scripts/tools.sh did not provide ${name}`);
  return line.slice(name.length + 1);
}

/**
 * Starts, once per test run: a Temporal dev server (in memory, FetchBox's search attributes),
 * a MinIO server with a fresh bucket, and a workflow bundle every test worker shares. Everything
 * is stopped in the returned teardown.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const temporalBin = findTemporalCli() ?? toolFromScript('temporal');
  const minioBin = process.env.FETCHBOX_MINIO_BIN ?? toolFromScript('minio');
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-test-'));
  let temporal: DevServer | undefined;
  let minio: RunningMinio | undefined;
  const teardown = async () => {
    await Promise.all([temporal?.stop(), minio?.stop()]);
    await rm(tmp, { recursive: true, force: true });
  };
  try {
    const [t, m, bundle] = await Promise.all([
      (async () =>
        startDevServer({
          binary: temporalBin,
          port: await freePort(),
          uiPort: await freePort(),
          ui: false,
          stdio: 'ignore',
          logLevel: 'error',
        }))(),
      startMinio(minioBin),
      bundleWorkflowCode({
        workflowsPath: workflowsPath(),
        logger: { info() {}, warn() {}, error() {}, debug() {}, trace() {}, log() {} },
      }),
    ]);
    temporal = t;
    minio = m;
    const bundlePath = path.join(tmp, 'workflow-bundle.js');
    await writeFile(bundlePath, bundle.code);
    project.provide('temporalAddress', t.address);
    project.provide('temporalCli', temporalBin);
    project.provide('minio', {
      endpoint: m.endpoint,
      accessKeyId: m.accessKeyId,
      secretAccessKey: m.secretAccessKey,
      bucket: m.bucket,
      region: m.region,
    });
    project.provide('workflowBundlePath', bundlePath);
    process.stderr.write(`[global-setup] temporal ${t.address}, minio ${m.endpoint}, ready in ${Date.now() - started} ms\n`);
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}
