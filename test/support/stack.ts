import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { inject } from 'vitest';
import { createApp, type App } from '../../src/api/app.js';
import { parseTokens } from '../../src/api/auth.js';
import { JobService } from '../../src/api/job-service.js';
import type { Config } from '../../src/config/config-schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createFetcher } from '../../src/fetch/fetcher.js';
import type { Handler } from '../../src/handlers/handler.js';
import { BUILT_IN_HANDLERS, HandlerRegistry } from '../../src/handlers/registry.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { createStorage } from '../../src/storage/store-registry.js';
import type { Storage } from '../../src/storage/storage.js';
import { createFetchBoxWorker } from '../../src/worker/create-worker.js';

/** Which driver a stack stores into. */
export type StorageKind = 'file' | 's3';

/** One FetchBox (API app + worker) wired to the run's real Temporal and MinIO. */
export interface Stack {
  app: App;
  client: Client;
  storage: Storage;
  config: Config;
  taskQueue: string;
  worker: Worker;
  /** POSTs a manifest through the app and returns status and body. */
  submit(manifest: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Waits for a job's workflow to close and returns its summary from the API. */
  waitForJob(jobId: string): Promise<Record<string, any>>;
  /** Every log line the worker and API wrote (pino JSON), for assertions on fields and secrets. */
  logs: string[];
  /** Every resource state of a job, following cursors. */
  allResources(jobId: string): Promise<Record<string, any>[]>;
  close(): Promise<void>;
}

/** Serves an app over real HTTP on a loopback port the OS picks (for clients that need a URL). */
export async function serveApp(app: App): Promise<{ url: string; close(): Promise<void> }> {
  // Port 0, read back once listening: a port chosen first and bound later could be taken meanwhile.
  let server!: ReturnType<typeof serve>;
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => resolve(info.port));
  });
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A job id no other test uses. */
export function uniqueJobId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * Builds a stack on its own task queue (so test files never steal each other's tasks), with
 * loopback allowed for downloads, `env` overriding any setting by its variable name, and
 * `extraHandlers` registered beside the built-in ones.
 */
export async function startStack(kind: StorageKind, env: Record<string, string> = {}, extraHandlers: Handler[] = []): Promise<Stack> {
  const minio = inject('minio');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stack-'));
  const taskQueue = `test-${randomUUID()}`;
  const config = loadConfig({
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: taskQueue,
    FETCHBOX_DATA_DIR: dataDir,
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8,::1/128',
    FETCHBOX_RETRY_INITIAL_INTERVAL_MS: '100',
    FETCHBOX_RETRY_MAX_INTERVAL_MS: '1000',
    FETCHBOX_LOG_LEVEL: 'silent',
    ...(kind === 's3'
      ? {
          FETCHBOX_STORAGE_URL: `s3://${minio.bucket}/${taskQueue}`,
          FETCHBOX_S3_ENDPOINT: minio.endpoint,
          FETCHBOX_S3_FORCE_PATH_STYLE: 'true',
        }
      : {}),
    ...env,
  });
  const storage =
    kind === 's3'
      ? new S3Storage({
          bucket: minio.bucket,
          prefix: taskQueue,
          endpoint: minio.endpoint,
          region: minio.region,
          forcePathStyle: true,
          partSizeBytes: config.storage.s3.partSizeBytes,
          queueSize: config.storage.s3.queueSize,
          credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
        })
      : createStorage(config.storage);
  const fetcher = createFetcher(config.fetch);
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const handlers = new HandlerRegistry([...BUILT_IN_HANDLERS, ...extraHandlers]);
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const worker = await createFetchBoxWorker({
    config,
    connection: nativeConnection,
    client,
    storage,
    fetcher,
    handlers,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    env: { ...process.env, ...env },
    logger,
  });
  const running = worker.run();
  const jobs = new JobService({ client, storage, handlers, config });
  const app = createApp({
    jobs,
    logger,
    bodyLimitBytes: config.api.bodyLimitBytes,
    tokens: parseTokens(config.api.tokens),
    eventsIntervalMs: 200,
    checks: [{ name: 'storage', check: () => storage.check() }],
  });

  const getJson = async (url: string) => {
    const res = await app.request(url);
    return (await res.json()) as Record<string, any>;
  };

  return {
    app,
    client,
    storage,
    config,
    taskQueue,
    worker,
    logs,
    async submit(manifest) {
      const res = await app.request('/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(manifest),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async waitForJob(jobId) {
      await client.workflow
        .getHandle(`job-${jobId}`)
        .result()
        .catch(() => undefined);
      return getJson(`/jobs/${jobId}`);
    },
    async allResources(jobId) {
      const items: Record<string, any>[] = [];
      let cursor: string | null = null;
      do {
        const page = await getJson(`/jobs/${jobId}/resources?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
        if (!Array.isArray(page.items)) throw new Error(`listing failed: ${JSON.stringify(page)}`);
        items.push(...(page.items as Record<string, any>[]));
        cursor = page.nextCursor as string | null;
      } while (cursor);
      return items;
    },
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await fetcher.close();
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
