import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { waitForPort } from '../../src/temporal/temporal-cli.js';
import { freePort } from './ports.js';

/** How tests reach the MinIO server of this run. */
export interface MinioInfo {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  region: string;
}

/** A running MinIO server with a fresh data dir and bucket; `stop()` kills it and removes the dir. */
export interface RunningMinio extends MinioInfo {
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts MinIO on a free loopback port (console on another), and creates `bucket`. Pass the
 * `dataDir` and `port` of a stopped server to start it again with its data (chaos tests);
 * `keepData` leaves the directory in place on stop; `credentials` gives the server its own root user.
 */
export async function startMinio(
  binary: string,
  bucket = 'fetchbox-test',
  reuse: { dataDir?: string; port?: number; keepData?: boolean; credentials?: { accessKeyId: string; secretAccessKey: string } } = {},
): Promise<RunningMinio & { dataDir: string; port: number }> {
  const dataDir = reuse.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'fetchbox-minio-')));
  const port = reuse.port ?? (await freePort());
  const consolePort = await freePort();
  // Root credentials: the run's shared ones, or a server's own (a second MinIO with other credentials).
  const { accessKeyId, secretAccessKey } = reuse.credentials ?? { accessKeyId: 'fetchbox-test', secretAccessKey: 'fetchbox-test-secret' };
  const child = spawn(
    binary,
    ['server', dataDir, '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: {
        ...process.env,
        MINIO_ROOT_USER: accessKeyId,
        MINIO_ROOT_PASSWORD: secretAccessKey,
        MINIO_BROWSER: 'off',
        MINIO_UPDATE: 'off',
        MINIO_CI_CD: '1',
      },
    },
  );
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  let exitReason: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitReason = `minio exited early with code ${code}`;
      resolve();
    }),
  );
  await waitForPort('127.0.0.1', port, 60_000, () => exitReason);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
  // The port opens a little before MinIO serves requests: retry bucket creation briefly.
  for (let i = 0; ; i++) {
    try {
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      break;
    } catch (err) {
      if ((err as { name?: string }).name === 'BucketAlreadyOwnedByYou') break;
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  client.destroy();
  return {
    dataDir,
    port,
    endpoint,
    accessKeyId,
    secretAccessKey,
    bucket,
    region: 'us-east-1',
    process: child,
    async stop() {
      process.off('exit', killChild);
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      if (!reuse.keepData) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
