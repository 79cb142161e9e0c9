import { randomUUID } from 'node:crypto';
import { serve } from '@hono/node-server';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { pino, type Logger } from 'pino';
import { inject } from 'vitest';
import type { App, AppDeps } from '../../src/api/app.js';
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
import { postJson, testApp } from './app.js';
import { waitFor, type WaitOptions } from './wait-for.js';

/** Which driver a stack stores into. */
export type StorageKind = 'file' | 's3';

/**
 * The API half of a FetchBox: the app (requests go through `app.request`, no network) and its
 * Temporal client; jobs run on whatever workers poll its task queue (in-process or processes).
 */
export interface Api {
  app: App;
  client: Client;
  storage: Storage;
  config: Config;
  /** POSTs a manifest through the app and returns status and body. */
  submit(manifest: unknown): Promise<{ status: number; body: Record<string, any> }>;
  /** POSTs a manifest and expects `202` (the answer is in the failure message); returns the body. */
  accept(manifest: unknown): Promise<Record<string, unknown>>;
  /** GETs a path through the app and returns its JSON body. */
  getJson(url: string): Promise<Record<string, any>>;
  /** `GET /jobs/{jobId}`'s body. */
  summary(jobId: string): Promise<Record<string, any>>;
  /** Polls the job's summary until it is neither running nor unknown, and returns it. */
  waitClosed(jobId: string, options: WaitOptions): Promise<Record<string, any>>;
  /** Waits for a job's workflow to close and returns its summary from the API; `options` bounds the wait. */
  waitForJob(jobId: string, options?: WaitOptions): Promise<Record<string, any>>;
  /** Every resource state of a job, following cursors. */
  allResources(jobId: string): Promise<Record<string, any>[]>;
  close(): Promise<void>;
}

/** One FetchBox (API app + in-process worker) wired to the run's real Temporal and MinIO. */
export interface Stack extends Api {
  taskQueue: string;
  worker: Worker;
  /** Every log line the worker and API wrote (pino JSON), for assertions on fields and secrets. */
  logs: string[];
}

/** What {@link startApi} may be given instead of its defaults. */
export interface ApiOptions {
  /** The storage the job service uses; by default one made from the config (and closed with the API). */
  storage?: Storage;
  /** The handlers the job service knows; by default the built-in ones. */
  handlers?: HandlerRegistry;
  /** App dependencies over {@link testApp}'s defaults. */
  app?: Partial<Omit<AppDeps, 'jobs'>>;
}

/** The run's MinIO bucket under `prefix`, with its credentials; `parts` sizes multipart uploads. */
export function minioStorage(prefix: string, parts: { partSizeBytes: number; queueSize: number }): S3Storage {
  const minio = inject('minio');
  return new S3Storage({
    bucket: minio.bucket,
    prefix,
    endpoint: minio.endpoint,
    region: minio.region,
    forcePathStyle: true,
    ...parts,
    credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
  });
}

/**
 * The storage a test reads and writes directly: the config's own for `file`, or for `s3` the run's
 * MinIO bucket under `prefix` (with the config's part size and queue).
 */
export function storageFor(kind: StorageKind, prefix: string, config: Config): Storage {
  if (kind === 'file') return createStorage(config.storage);
  const { partSizeBytes, queueSize } = config.storage.s3;
  return minioStorage(prefix, { partSizeBytes, queueSize });
}

/** An API for the settings in `env` (variable names, as `loadConfig` reads them). */
export async function startApi(env: Record<string, string>, options: ApiOptions = {}): Promise<Api> {
  const config = loadConfig(env);
  const storage = options.storage ?? createStorage(config.storage);
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const app = testApp(
    new JobService({ client, storage, handlers: options.handlers ?? new HandlerRegistry(BUILT_IN_HANDLERS), config }),
    options.app,
  );
  const getJson = async (url: string) => (await (await app.request(url)).json()) as Record<string, any>;
  const api: Api = {
    app,
    client,
    storage,
    config,
    async submit(manifest) {
      const res = await postJson(app, '/jobs', manifest);
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    },
    async accept(manifest) {
      const { status, body } = await api.submit(manifest);
      if (status !== 202) throw new Error(`submit answered ${status}: ${JSON.stringify(body)}`);
      return body;
    },
    getJson,
    summary: (jobId) => getJson(`/jobs/${jobId}`),
    waitClosed: (jobId, wait) =>
      waitFor(
        `job ${jobId} to close`,
        async () => {
          const s = await getJson(`/jobs/${jobId}`);
          return s.status !== 'running' && s.status !== undefined ? s : undefined;
        },
        { intervalMs: 200, ...wait },
      ),
    async waitForJob(jobId, wait) {
      const closed = client.workflow
        .getHandle(`job-${jobId}`)
        .result()
        .catch(() => undefined);
      if (wait) {
        let done = false;
        void closed.finally(() => (done = true));
        await waitFor(`job ${jobId}'s workflow to close`, () => done, wait);
      } else await closed;
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
      await connection.close();
      if (!options.storage) await storage.close();
    },
  };
  return api;
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
  const settings: Record<string, string> = {
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
  };
  const config = loadConfig(settings);
  const storage = storageFor(kind, taskQueue, config);
  const fetcher = createFetcher(config.fetch);
  const logs: string[] = [];
  const logger: Logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const handlers = new HandlerRegistry([...BUILT_IN_HANDLERS, ...extraHandlers]);
  const nativeConnection = await NativeConnection.connect({ address: config.temporal.address });
  const api = await startApi(settings, {
    storage,
    app: {
      logger,
      bodyLimitBytes: config.api.bodyLimitBytes,
      tokens: parseTokens(config.api.tokens),
      eventsIntervalMs: 200,
      checks: [{ name: 'storage', check: () => storage.check() }],
    },
    handlers,
  });
  const worker = await createFetchBoxWorker({
    config,
    connection: nativeConnection,
    client: api.client,
    storage,
    fetcher,
    handlers,
    workflowBundle: { codePath: inject('workflowBundlePath') },
    env: { ...process.env, ...env },
    logger,
  });
  const running = worker.run();

  return {
    ...api,
    taskQueue,
    worker,
    logs,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await nativeConnection.close();
      await api.close();
      await fetcher.close();
      await storage.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
