import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/api/app.js';
import { JobService } from '../../src/api/job-service.js';
import { loadConfig } from '../../src/config/load-config.js';
import { VALIDATOR_METADATA } from '../../src/fetch/validators.js';
import { builtInHandlers } from '../../src/handlers/registry.js';
import { createStorage } from '../../src/storage/store-registry.js';
import type { FileStorage } from '../../src/storage/file-storage.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';
import { startStack, uniqueJobId, type Stack } from '../support/stack.js';
import { WorkerProcesses } from '../support/worker-processes.js';

// Resumable large downloads (issue 16 item 3): an interrupted body continues from its stored
// prefix with Range + If-Range, and starts over when the origin cannot continue it.

let origin: Origin;
beforeAll(async () => {
  origin = await startOrigin();
});
afterAll(async () => {
  await origin?.close();
});

/** Files left in the file driver's partial area (empty once every download finished). */
async function partialsLeft(root: string): Promise<string[]> {
  return readdir(path.join(root, '.fetchbox-tmp', 'partial')).catch(() => []);
}

/** What a stack's storage holds of partial downloads: files (file driver), or checkpoints and open uploads (S3). */
async function leftovers(stack: Stack): Promise<string[]> {
  if (stack.storage.url.startsWith('file:')) return partialsLeft((stack.storage as FileStorage).root);
  const s3 = stack.storage as S3Storage;
  const Bucket = inject('minio').bucket;
  const uploads = await s3.client.send(new ListMultipartUploadsCommand({ Bucket, Prefix: `${stack.taskQueue}/` }));
  const checkpoints = await s3.client.send(new ListObjectsV2Command({ Bucket, Prefix: `${stack.taskQueue}/.fetchbox-partial/` }));
  return [...(uploads.Uploads ?? []).map((u) => `upload ${u.Key}`), ...(checkpoints.Contents ?? []).map((o) => `checkpoint ${o.Key}`)];
}

describe.each(['file', 's3'] as const)('resumable downloads after a broken connection (%s storage)', (kind) => {
  const SIZE = 24 * 1024 * 1024;
  const CUT = 10 * 1024 * 1024;
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack(kind);
  }, 60_000);
  afterAll(async () => {
    await stack?.close();
  });

  async function runCut(name: string, afterCut: Parameters<Origin['validated']['set']>[1]['afterCut'] = { version: 1 }) {
    origin.validated.set(name, { version: 1, cutAt: CUT, afterCut });
    const jobId = uniqueJobId('resume');
    const key = `resume/${name}`;
    expect((await stack.submit({ jobId, resources: [{ id: 'big', url: `${origin.url}/ranged/${SIZE}/${name}`, key }] })).status).toBe(202);
    const summary = await stack.waitForJob(jobId);
    const [state] = await stack.allResources(jobId);
    const path = `/ranged/${SIZE}/${name}`;
    return {
      summary,
      state: state!,
      key,
      sent: origin.bytesSent.get(path) ?? 0,
      headers: origin.lastHeaders.get(path) ?? {},
      hits: origin.hits.get(path) ?? 0,
    };
  }

  it('continues from the stored prefix with Range and If-Range: the body is fetched about once, stored byte-exact', async () => {
    const name = uniqueJobId('reset');
    const { state, key, sent, headers } = await runCut(name);
    expect(state).toMatchObject({ status: 'succeeded', attempts: 2, bytes: SIZE, sha256: contentSha256(`${name}-v1`, SIZE) });
    expect(headers.range).toMatch(/^bytes=\d+-$/);
    // File: what was written before the break; S3: the whole parts uploaded (8 MiB).
    expect(Number(/\d+/.exec(headers.range!)![0])).toBeGreaterThan(CUT / 2);
    expect(headers['if-range']).toBe(`"${name}-v1"`);
    expect(sent).toBeLessThan(SIZE + CUT / 2);
    expect(await readBack(stack.storage, key)).toEqual({ sha256: contentSha256(`${name}-v1`, SIZE), bytes: SIZE });
    expect(await leftovers(stack)).toEqual([]);
  });

  it('starts over when the origin ignores Range (200), when the validator changed, or when Content-Range does not continue', async () => {
    const cases = [
      { name: uniqueJobId('ignores'), afterCut: { version: 1, ignoreConditions: true }, version: 1 },
      { name: uniqueJobId('changed'), afterCut: { version: 2 }, version: 2 },
      { name: uniqueJobId('badrange'), afterCut: { version: 1, badRange: true }, version: 1 },
      // The 206 carries version 2's ETag (If-Range ignored): splicing it onto version 1's prefix would store a mix.
      { name: uniqueJobId('spliced'), afterCut: { version: 2, ignoreIfRange: true }, version: 2 },
    ];
    for (const c of cases) {
      const { state, key, sent, headers } = await runCut(c.name, c.afterCut);
      const sha256 = contentSha256(`${c.name}-v${c.version}`, SIZE);
      expect(state, c.name).toMatchObject({ status: 'succeeded', bytes: SIZE, sha256 });
      expect(sent, c.name).toBeGreaterThanOrEqual(CUT + SIZE); // the whole body again
      expect(await readBack(stack.storage, key), c.name).toEqual({ sha256, bytes: SIZE });
      // The recorded validator is the one of the bytes stored.
      expect((await stack.storage.head(key))?.metadata[VALIDATOR_METADATA.etag], c.name).toBe(`"${c.name}-v${c.version}"`);
      // A mismatched 206 is dropped and the body asked for again without Range.
      if ('badRange' in c.afterCut || 'ignoreIfRange' in c.afterCut) expect(headers.range).toBeUndefined();
      else expect(headers.range).toMatch(/^bytes=\d+-$/);
    }
    expect(await leftovers(stack)).toEqual([]);
  });

  it('a resource that fails for good after its body broke off leaves no partial behind', async () => {
    const name = uniqueJobId('gone');
    const { state, key, hits } = await runCut(name, { version: 1, gone: true });
    expect(state).toMatchObject({ status: 'failed', error: { kind: 'http_status', httpStatus: 404 } });
    expect(hits).toBe(2); // the cut body, then the 404: nothing retried after a permanent failure
    expect(await stack.storage.head(key)).toBeUndefined();
    expect(await leftovers(stack)).toEqual([]);
  });
});

const GiB = 1024 * 1024 * 1024;

// The acceptance case (1 GiB, file storage), and the same on MinIO with a smaller body.
describe.each([
  { kind: 'file' as const, size: GiB, rate: 160 * 1024 * 1024 },
  { kind: 's3' as const, size: GiB / 4, rate: 48 * 1024 * 1024 },
])('resumable downloads: SIGKILL of the worker at ~60 % of a body ($kind storage, $size bytes)', ({ kind, size: SIZE, rate }) => {
  const workers = new WorkerProcesses();
  let dir: string;
  afterAll(async () => {
    workers.killAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('continues on the next worker: under 1.5 bodies fetched in all, the object byte-exact', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-resume-kill-'));
    const minio = inject('minio');
    const taskQueue = `resume-kill-${randomUUID()}`;
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      FETCHBOX_FETCH_ALLOW_CIDRS: '127.0.0.0/8',
      FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: '2000',
      FETCHBOX_RETRY_INITIAL_INTERVAL_MS: '200',
      FETCHBOX_WORKER_METRICS_PORT: '-1',
      FETCHBOX_LOG_LEVEL: 'warn',
      FETCHBOX_WORKFLOW_BUNDLE: inject('workflowBundlePath'),
      ...(kind === 'file'
        ? { FETCHBOX_STORAGE_URL: `file://${dir}` }
        : {
            FETCHBOX_STORAGE_URL: `s3://${minio.bucket}/${taskQueue}`,
            FETCHBOX_S3_ENDPOINT: minio.endpoint,
            FETCHBOX_S3_FORCE_PATH_STYLE: 'true',
            FETCHBOX_S3_REGION: minio.region,
            AWS_ACCESS_KEY_ID: minio.accessKeyId,
            AWS_SECRET_ACCESS_KEY: minio.secretAccessKey,
          }),
    };
    const config = loadConfig(env);
    const storage =
      kind === 'file'
        ? createStorage(config.storage)
        : new S3Storage({
            bucket: minio.bucket,
            prefix: taskQueue,
            endpoint: minio.endpoint,
            region: minio.region,
            forcePathStyle: true,
            partSizeBytes: config.storage.s3.partSizeBytes,
            queueSize: config.storage.s3.queueSize,
            credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
          });
    const connection = await Connection.connect({ address: config.temporal.address });
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const app = createApp({
      jobs: new JobService({ client, storage, handlers: builtInHandlers(), config }),
      logger: pino({ level: 'silent' }),
      bodyLimitBytes: 1 << 20,
      checks: [],
    });
    try {
      const name = uniqueJobId(`kill-${kind}`);
      const urlPath = `/ranged/${SIZE}/${name}`;
      origin.validated.set(name, { version: 1, rate });
      const jobId = uniqueJobId('resume-kill');
      const key = `resume/${name}`;
      const res = await app.request('/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jobId, resources: [{ id: 'big', url: `${origin.url}${urlPath}`, key }] }),
      });
      expect(res.status).toBe(202);
      const first = workers.start(env);
      const until = Date.now() + 120_000;
      while ((origin.bytesSent.get(urlPath) ?? 0) < SIZE * 0.6) {
        if (Date.now() > until) throw new Error(`only ${origin.bytesSent.get(urlPath) ?? 0} bytes sent after 120 s\n${workers.report()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      await workers.kill(first);
      const atKill = origin.bytesSent.get(urlPath) ?? 0;
      expect(await storage.head(key)).toBeUndefined(); // nothing at the key while partial
      workers.start(env);
      // The download resumes once its heartbeat timeout (2 s) notices the dead worker: a stall
      // past 150 s fails with the workers' log tails rather than the test's bare timeout.
      const closed = client.workflow.getHandle(`job-${jobId}`).result();
      const stalled = new Promise((_, reject) => {
        const timer = setTimeout(() => reject(new Error(`job ${jobId} not closed 150 s after the kill\n${workers.report()}`)), 150_000);
        void closed.then(
          () => clearTimeout(timer),
          () => clearTimeout(timer),
        );
      });
      await Promise.race([closed, stalled]);
      const summary = (await (await app.request(`/jobs/${jobId}`)).json()) as Record<string, any>;
      expect(summary).toMatchObject({ status: 'completed', resources: { succeeded: 1, failed: 0 } });
      const states = (await (await app.request(`/jobs/${jobId}/resources`)).json()) as { items: Record<string, any>[] };
      const expected = contentSha256(`${name}-v1`, SIZE);
      expect(states.items[0]).toMatchObject({ status: 'succeeded', bytes: SIZE, sha256: expected });
      const total = origin.bytesSent.get(urlPath)!;
      expect(total).toBeLessThan(1.5 * SIZE);
      expect(origin.lastHeaders.get(urlPath)?.range).toMatch(/^bytes=\d+-$/);
      if (kind === 'file') {
        const hash = createHash('sha256');
        for await (const chunk of createReadStream(path.join(dir, key))) hash.update(chunk as Buffer);
        expect(hash.digest('hex')).toBe(expected);
        expect(await partialsLeft(dir)).toEqual([]);
      } else {
        expect(await readBack(storage, key)).toEqual({ sha256: expected, bytes: SIZE });
        const uploads = await (storage as S3Storage).client.send(
          new ListMultipartUploadsCommand({ Bucket: minio.bucket, Prefix: `${taskQueue}/` }),
        );
        expect(uploads.Uploads ?? []).toEqual([]);
        expect((await storage.head(key))?.metadata.sha256).toBe(expected);
      }
      process.stderr.write(
        `[resume] ${kind}, ${SIZE / 2 ** 20} MiB, SIGKILL at ${((atKill / SIZE) * 100).toFixed(0)} %: ${(total / SIZE).toFixed(3)} bodies fetched in all (${origin.lastHeaders.get(urlPath)?.range}), object byte-exact\n`,
      );
    } finally {
      await connection.close();
      await storage.close();
    }
  }, 300_000);
});
