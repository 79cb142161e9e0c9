import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { storeChecks } from '../../src/api/service/health-routes.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { BUILT_IN_HANDLERS, HandlerRegistry } from '../../src/handlers/registry.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { createStoreRegistry, type StoreRegistry } from '../../src/storage/store-registry.js';
import { projectRoot } from '../../src/temporal/temporal-cli.js';
import { startMinio } from '../support/minio.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { startApi, type Api } from '../support/stack.js';
import { WorkerProcesses } from '../support/worker-processes.js';
import { splitHandler } from '../support/store-split-handler.mjs';

// Handler storage overrides end to end: a job whose `split` handler sends objects to two MinIO
// buckets on two servers with different credentials and to the default file store, with its
// worker process SIGKILLed mid-job; every object lands once, in its store, byte-exact.

const ARCHIVE_CREDENTIALS = { accessKeyId: 'fetchbox-archive', secretAccessKey: 'archive-secret-7f3a9c' };
const handlers = new HandlerRegistry([...BUILT_IN_HANDLERS, splitHandler]);

let origin: Origin;
let archiveMinio: Awaited<ReturnType<typeof startMinio>>;
let dir: string;
let env: Record<string, string>;
let stores: StoreRegistry;
let api: Api;
const workers = new WorkerProcesses([path.join(projectRoot, 'test', 'support', 'store-worker.mjs')]);

beforeAll(async () => {
  origin = await startOrigin();
  const minioBin = process.env.FETCHBOX_MINIO_BIN ?? path.join(projectRoot, '.tools', 'bin', 'minio');
  archiveMinio = await startMinio(minioBin, 'archive', { credentials: ARCHIVE_CREDENTIALS });
  dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stores-'));
  const minio = inject('minio');
  const queue = `stores-${randomUUID()}`;
  env = {
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: queue,
    FETCHBOX_STORAGE_URL: `file://${dir}/default`,
    // Store `images`: the run's MinIO, its own credentials.
    FETCHBOX_STORE_IMAGES_URL: `s3://${minio.bucket}/${queue}`,
    FETCHBOX_STORE_IMAGES_S3_ENDPOINT: minio.endpoint,
    FETCHBOX_STORE_IMAGES_S3_FORCE_PATH_STYLE: 'true',
    FETCHBOX_STORE_IMAGES_S3_ACCESS_KEY_ID: minio.accessKeyId,
    FETCHBOX_STORE_IMAGES_S3_SECRET_ACCESS_KEY: minio.secretAccessKey,
    // Store `archive`: another MinIO server, other credentials.
    FETCHBOX_STORE_ARCHIVE_URL: 's3://archive/crawl',
    FETCHBOX_STORE_ARCHIVE_S3_ENDPOINT: archiveMinio.endpoint,
    FETCHBOX_STORE_ARCHIVE_S3_FORCE_PATH_STYLE: 'true',
    FETCHBOX_STORE_ARCHIVE_S3_ACCESS_KEY_ID: ARCHIVE_CREDENTIALS.accessKeyId,
    FETCHBOX_STORE_ARCHIVE_S3_SECRET_ACCESS_KEY: ARCHIVE_CREDENTIALS.secretAccessKey,
    FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8',
    FETCHBOX_JOB_CONCURRENCY: '8',
    FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: '2000',
    FETCHBOX_RETRY_INITIAL_INTERVAL_MS: '200',
    FETCHBOX_RETRY_MAX_ATTEMPTS: '20',
    FETCHBOX_WORKER_METRICS_PORT: '-1',
    FETCHBOX_LOG_LEVEL: 'fatal',
    FETCHBOX_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
  };
  const config = loadConfig(env);
  stores = createStoreRegistry(config);
  api = await startApi(env, { storage: stores.default, handlers, app: { bodyLimitBytes: 1 << 26, checks: storeChecks(stores) } });
}, 120_000);

afterAll(async () => {
  workers.killAll();
  await api?.close();
  await stores?.close();
  await archiveMinio?.stop();
  await origin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Keys under a prefix of an S3 store, listed with that store's own client (its credentials). */
async function s3Keys(storage: S3Storage, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await storage.client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token ? { ContinuationToken: token } : {}) }),
    );
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.NextContinuationToken;
  } while (token);
  return keys;
}

describe('named stores', () => {
  it('the two buckets need their own credentials, and /readyz reports every store', async () => {
    const minio = inject('minio');
    const wrong = new S3Storage({
      bucket: minio.bucket,
      prefix: 'x',
      endpoint: minio.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      partSizeBytes: 8 << 20,
      queueSize: 1,
      credentials: ARCHIVE_CREDENTIALS,
    });
    await expect(wrong.check()).rejects.toThrow();
    await wrong.close();
    const ready = await api.app.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { storage: 'ok', 'storage.images': 'ok', 'storage.archive': 'ok' } });
  });

  it('refuses an unknown or disallowed store at submit (400 invalid_manifest), and a config naming an unknown store at load', async () => {
    const resources = [{ url: `${origin.url}/bytes/16/x` }];
    const unknown = await api.submit({ handler: 'split', store: 'imagez', resources });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('invalid_manifest');
    expect(unknown.body.error.details).toEqual([
      { path: 'store', message: 'unknown store "imagez"; this handler allows: "images", "archive"' },
    ]);
    const disallowed = await api.submit({ store: 'images', resources }); // the default handler allows none
    expect(disallowed.status).toBe(400);
    expect(disallowed.body.error.details[0].message).toMatch(/handler "default" does not allow store "images"/);
    const url = await api.submit({ store: 's3://elsewhere/x', resources });
    expect(url.status).toBe(400);
    expect(() =>
      loadConfig({ ...env, FETCHBOX_CONFIG: path.join(projectRoot, 'test', 'fixtures', 'config', 'unknown-store.yaml') }),
    ).toThrow(ConfigError);
  });

  // 420 s: two kills of at most 90 s each, 180 s for the job to close, 60 s to check the stores.
  it('splits a job among two buckets and the file store, byte-exact, through worker crashes', async () => {
    const jobId = `stores-${randomUUID().slice(0, 8)}`;
    const count = 240;
    // i % 3: 0 → an image (images, chosen before the request), 1 → 8 KiB (archive, chosen from the response), 2 → default.
    const kindOf = (i: number) => (['images', 'archive', 'default'] as const)[i % 3]!;
    const name = (i: number) => (kindOf(i) === 'images' ? `${jobId}-img-${i}` : `${jobId}-${i}`);
    const size = (i: number) => (kindOf(i) === 'archive' ? 8192 : 2048);
    const resources = Array.from({ length: count }, (_, i) => ({ id: `r${i}`, url: `${origin.url}/slow/250/${size(i)}/${name(i)}` }));
    expect((await api.submit({ jobId, handler: 'split', resources })).status).toBe(202);
    // Requests the origin received for this job. Each kill once the newest worker has made 16 (its
    // 4 lanes about 1 s into their batches): the first request means the job's one page is loaded,
    // so the kills hit downloads, not the page's I/O activities (see chaos.test.ts), and two kills
    // of 16 requests leave most of the 240 for the last worker: the job cannot end earlier.
    const requested = () => {
      let n = 0;
      for (const [p, hits] of origin.hits) if (p.includes(`/${jobId}-`)) n += hits;
      return n;
    };
    await workers.killWhileProgressing(env, { kills: 2, progress: requested, step: 16, timeoutMs: 90_000 });
    const summary = await api.waitClosed(jobId, { timeoutMs: 180_000, report: () => workers.report() });
    expect(summary).toMatchObject({ status: 'completed', resources: { total: count, succeeded: count, failed: 0 } });

    // Every state names its store (none for default) and its key (images under the pics/ prefix).
    const page = await api.getJson(`/jobs/${jobId}/resources?limit=1000`);
    const states = new Map<string, Record<string, any>>(page.items.map((s: Record<string, any>) => [s.id, s]));
    for (let i = 0; i < count; i++) {
      const state = states.get(`r${i}`)!;
      const key = `${kindOf(i) === 'images' ? 'pics/' : ''}${jobId}/r${i}-${name(i)}`;
      expect({ key: state.key, store: state.store }).toEqual({ key, store: kindOf(i) === 'default' ? undefined : kindOf(i) });
      // Byte-exact, read back from the state's store.
      expect(await readBack(stores.resolve(state.store), key), `r${i}`).toEqual({
        sha256: contentSha256(name(i), size(i)),
        bytes: size(i),
      });
    }
    // Once each and nowhere else: each store holds exactly its share.
    const images = stores.resolve('images') as S3Storage;
    const archive = stores.resolve('archive') as S3Storage;
    const imageKeys = await s3Keys(images, inject('minio').bucket, `${env.TEMPORAL_TASK_QUEUE}/`);
    expect(imageKeys).toHaveLength(count / 3);
    expect(imageKeys.every((k) => k.startsWith(`${env.TEMPORAL_TASK_QUEUE}/pics/${jobId}/`))).toBe(true);
    const archiveKeys = await s3Keys(archive, 'archive', 'crawl/');
    expect(archiveKeys).toHaveLength(count / 3);
    expect((await archive.head(`${jobId}/r1-${name(1)}`))?.metadata).toMatchObject({
      routed: 'by-size',
      'source-url': resources[1]!.url,
    });
    const files = (await readdir(path.join(dir, 'default', jobId), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.relative(path.join(dir, 'default'), path.join(e.parentPath, e.name)));
    // The manifest document and staging stay in the default store.
    expect(files.filter((f) => f === `${jobId}/manifest.json`)).toHaveLength(1);
    expect(files.filter((f) => !f.includes('.fetchbox') && !f.endsWith('manifest.json'))).toHaveLength(count / 3);
    process.stderr.write(`[stores] SIGKILL x2 mid-download: ${count} objects byte-exact in images, archive and the file store\n`);
  }, 420_000);

  it('a manifest store the handler allows is the job store', async () => {
    const jobId = `stores-m-${randomUUID().slice(0, 8)}`;
    const resources = [0, 1].map((i) => ({ id: `m${i}`, url: `${origin.url}/bytes/1024/${jobId}-${i}` }));
    expect((await api.submit({ jobId, handler: 'split', store: 'archive', resources })).status).toBe(202);
    const worker = workers.start(env);
    try {
      expect(await api.waitClosed(jobId, { timeoutMs: 60_000, report: () => workers.report() })).toMatchObject({
        status: 'completed',
        resources: { succeeded: 2 },
      });
      const states = (await api.getJson(`/jobs/${jobId}/resources`)).items as Record<string, any>[];
      expect(states.map((s) => s.store)).toEqual(['archive', 'archive']);
      expect(await readBack(stores.resolve('archive'), `${jobId}/m0-${jobId}-0`)).toEqual({
        sha256: contentSha256(`${jobId}-0`, 1024),
        bytes: 1024,
      });
      expect(await stores.default.head(`${jobId}/m0-${jobId}-0`)).toBeUndefined();
    } finally {
      worker.kill('SIGKILL');
    }
  }, 120_000);
});
