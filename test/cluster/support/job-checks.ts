import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { S3Storage } from '../../../src/storage/s3-storage.js';
import type { ClusterInfo } from './cluster.js';

/** The run's MinIO bucket under `prefix`, as a FetchBox storage driver (to read objects back). */
export function clusterStorage(cluster: ClusterInfo, prefix: string): S3Storage {
  return new S3Storage({
    bucket: cluster.minio.bucket,
    prefix,
    endpoint: cluster.minio.endpoint,
    region: cluster.minio.region,
    forcePathStyle: true,
    partSizeBytes: 8 * 1024 * 1024,
    queueSize: 4,
    credentials: { accessKeyId: cluster.minio.accessKeyId, secretAccessKey: cluster.minio.secretAccessKey },
  });
}

/** Size of every object under `prefix/` in the run's bucket, by key relative to the prefix (one LIST per 1,000). */
export async function listObjectSizes(cluster: ClusterInfo, prefix: string): Promise<Map<string, number>> {
  const { endpoint, region, accessKeyId, secretAccessKey, bucket } = cluster.minio;
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  const sizes = new Map<string, number>();
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, ContinuationToken: token }));
      for (const o of page.Contents ?? []) sizes.set(o.Key!.slice(prefix.length + 1), o.Size ?? -1);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } finally {
    client.destroy();
  }
  return sizes;
}

/** GET /jobs/<id> on the API, or undefined while it does not answer 200. */
export async function jobSummary(apiUrl: string, jobId: string): Promise<Record<string, any> | undefined> {
  const res = await fetch(`${apiUrl}/jobs/${jobId}`).catch(() => undefined);
  return res?.ok ? ((await res.json()) as Record<string, any>) : undefined;
}

/** Every resource state of a job, through the API's cursor pages. */
export async function allResourceStates(apiUrl: string, jobId: string): Promise<Record<string, any>[]> {
  const states: Record<string, any>[] = [];
  let cursor: string | null = null;
  do {
    const page = (await (await fetch(`${apiUrl}/jobs/${jobId}/resources?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)).json()) as Record<string, any>;
    states.push(...(page.items as Record<string, any>[]));
    cursor = page.nextCursor as string | null;
  } while (cursor);
  return states;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; 0 once it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return 0;
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/**
 * The pid of this run's `temporal-server` (started with `--root <the cluster dir>`, which holds
 * the run's certificates): the global setup owns it, so a test finds it in /proc.
 */
export async function temporalServerPid(cluster: ClusterInfo): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const args = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    const root = args[args.indexOf('--root') + 1];
    if (args.includes('--root') && args.includes('start') && root && cluster.certs.caCert.startsWith(`${path.resolve(root)}/`)) return Number(entry);
  }
  return undefined;
}
