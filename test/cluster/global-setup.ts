import type { TestProject } from 'vitest/node';
import { startCluster, type ClusterInfo } from './support/cluster.js';
import { startClusterControl, type ClusterControlInfo } from './support/control.js';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterInfo;
    clusterControl: ClusterControlInfo;
  }
}

/**
 * Starts the cluster of the `cluster` project once per run (PostgreSQL, the Temporal server with
 * an mTLS frontend, MinIO) and stops it in the returned teardown. Prints how long each step took.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const cluster = await startCluster();
  project.provide('cluster', cluster.info);
  const control = await startClusterControl({
    'temporal/kill': () => cluster.temporal.stop('SIGKILL'),
    'temporal/start': () => cluster.temporal.restart(),
  });
  project.provide('clusterControl', { url: control.url, token: control.token });
  const steps = Object.entries(cluster.timings)
    .map(([k, v]) => `${k} ${v} ms`)
    .join(', ');
  process.stderr.write(
    `[cluster] temporal ${cluster.info.temporalAddress} (mTLS), minio ${cluster.info.minio.endpoint}, postgres 127.0.0.1:${cluster.info.postgres.port}; ready in ${Date.now() - started} ms (${steps})\n`,
  );
  return async () => {
    const stopping = Date.now();
    await control.close();
    await cluster.stop();
    process.stderr.write(`[cluster] stopped in ${Date.now() - stopping} ms\n`);
  };
}
