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
    const page = (await (await fetch(`${apiUrl}/jobs/${jobId}/resources?limit=1000${cursor ? `&cursor=${cursor}` : ''}`)).json()) as Record<
      string,
      any
    >;
    states.push(...(page.items as Record<string, any>[]));
    cursor = page.nextCursor as string | null;
  } while (cursor);
  return states;
}

interface ProcStat {
  ppid: number;
  /** utime + stime, and cutime + cstime (children it has waited for), in seconds. */
  own: number;
  children: number;
}

async function procStat(pid: number): Promise<ProcStat | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  if (!stat) return undefined;
  // Fields after the parenthesised command name, from field 3 (state): ppid is 4, utime 14, stime 15, cutime 16, cstime 17.
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const hz = 100; // USER_HZ on Linux
  return { ppid: f[1]!, own: (f[11]! + f[12]!) / hz, children: (f[13]! + f[14]!) / hz };
}

async function pids(): Promise<number[]> {
  return (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).map(Number);
}

/**
 * CPU seconds (user + system) a process and its descendants have used so far, from /proc: its own,
 * its live descendants', and what its exited children used (PostgreSQL backends). 0 once it is gone.
 */
export async function cpuSeconds(pid: number): Promise<number> {
  const all = new Map<number, ProcStat>();
  for (const p of await pids()) {
    const stat = await procStat(p);
    if (stat) all.set(p, stat);
  }
  const root = all.get(pid);
  if (!root) return 0;
  let total = root.own + root.children;
  const walk = (parent: number) => {
    for (const [p, stat] of all) {
      if (stat.ppid !== parent) continue;
      total += stat.own;
      walk(p);
    }
  };
  walk(pid);
  return total;
}

/**
 * The first process whose arguments satisfy `match` (the cluster's servers are owned by the
 * global setup, so a test finds them in /proc: temporal-server by its `--root`, PostgreSQL by
 * its `-p`, MinIO by its `--address`).
 */
export async function findPid(match: (args: string[]) => boolean): Promise<number | undefined> {
  for (const pid of await pids()) {
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (match(args)) return pid;
  }
  return undefined;
}

/** The cluster's server processes, for CPU accounting: temporal-server, the PostgreSQL postmaster and MinIO. */
export async function clusterServerPids(cluster: ClusterInfo): Promise<{ temporal?: number; postgres?: number; minio?: number }> {
  const after = (args: string[], flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
  const minioAddress = cluster.minio.endpoint.replace(/^http:\/\//, '');
  const [temporal, postgres, minio] = await Promise.all([
    findPid((a) => a.includes('start') && cluster.certs.caCert.startsWith(`${path.resolve(after(a, '--root') ?? '/nonexistent')}/`)),
    findPid((a) => a.includes('-D') && after(a, '-p') === String(cluster.postgres.port)),
    findPid((a) => a.includes('server') && after(a, '--address') === minioAddress),
  ]);
  return { ...(temporal ? { temporal } : {}), ...(postgres ? { postgres } : {}), ...(minio ? { minio } : {}) };
}
