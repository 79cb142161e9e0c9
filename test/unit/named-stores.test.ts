import { VALIDATOR_METADATA, requestDigest } from '../../src/fetch/validators.js';
import { createHash } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDownloadOne } from '../../src/activities/download-one.js';
import { createHandlerHooks } from '../../src/activities/handler-hooks.js';
import { assignStores, objectStorage, storageFor } from '../../src/activities/task-store.js';
import type { ApiError } from '../../src/api/api-error.js';
import { applyManifestStore } from '../../src/api/submit/check-manifest.js';
import { manifestHash } from '../../src/api/submit/manifest-hash.js';
import { paginate } from '../../src/api/submit/staging.js';
import { storeChecks } from '../../src/api/service/health-routes.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import type { Fetcher } from '../../src/fetch/fetcher.js';
import { defineHandler, type HandlerContext } from '../../src/handlers/handler.js';
import { assertHandlerStores, resolvePolicy } from '../../src/handlers/policy.js';
import { BUILT_IN_HANDLERS, HandlerRegistry } from '../../src/handlers/registry.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import type { S3Storage } from '../../src/storage/s3-storage.js';
import { createStoreRegistry, checkStores, StoreUnavailableError, UnknownStoreError } from '../../src/storage/store-registry.js';
import { MAX_STORE_FIELD_BYTES, jsonBytes } from '../../src/model/page-budget.js';

const STORES_ENV = {
  FETCHBOX_STORE_IMAGES_URL: 's3://images-bucket/crawl',
  FETCHBOX_STORE_IMAGES_S3_ENDPOINT: 'http://127.0.0.1:9000',
  FETCHBOX_STORE_IMAGES_S3_FORCE_PATH_STYLE: 'true',
  FETCHBOX_STORE_IMAGES_S3_ACCESS_KEY_ID: 'images-key',
  FETCHBOX_STORE_IMAGES_S3_SECRET_ACCESS_KEY: 'images-secret-value',
  FETCHBOX_STORE_COLD_ARCHIVE_URL: 's3://archive/',
  FETCHBOX_STORE_COLD_ARCHIVE_S3_REGION: 'eu-west-1',
  FETCHBOX_S3_REGION: 'us-east-2',
  FETCHBOX_S3_PART_SIZE_BYTES: String(16 * 1024 * 1024),
};

describe('named stores in configuration', () => {
  it('reads FETCHBOX_STORE_<NAME>_* variables into storage.stores.<name>, names lower-cased', () => {
    const config = loadConfig(STORES_ENV);
    expect(config.storage.stores).toEqual({
      images: {
        url: 's3://images-bucket/crawl',
        s3: { endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, accessKeyId: 'images-key', secretAccessKey: 'images-secret-value' },
      },
      cold_archive: { url: 's3://archive/', s3: { region: 'eu-west-1' } },
    });
    expect(loadConfig({}).storage.stores).toEqual({});
  });

  it('reads stores from a config file, the environment over it', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stores-'));
    const file = path.join(dir, 'fetchbox.yaml');
    await writeFile(
      file,
      [
        'storage:',
        '  stores:',
        '    local:',
        `      url: file://${dir}/local`,
        '    images:',
        '      url: s3://from-file',
        'handlers:',
        '  default:',
        '    policy:',
        '      store: local',
        '      allowedStores: [images, default]',
      ].join('\n'),
    );
    const config = loadConfig({ FETCHBOX_CONFIG: file, FETCHBOX_STORE_IMAGES_URL: 's3://from-env' });
    expect(config.storage.stores.local?.url).toBe(`file://${dir}/local`);
    expect(config.storage.stores.images?.url).toBe('s3://from-env');
    expect(config.handlers.default?.policy).toMatchObject({ store: 'local', allowedStores: ['images', 'default'] });
  });

  it('refuses a bad store with a ConfigError naming the setting and its variable, never the secret', () => {
    expect(() => loadConfig({ FETCHBOX_STORE_X_URL: 'https://bucket' })).toThrow(/storage\.stores\.x\.url \(FETCHBOX_STORE_X_URL\)/);
    expect(() => loadConfig({ FETCHBOX_STORE_X_URL: 's3://b', FETCHBOX_STORE_X_S3_QUEUE_SIZE: '99' })).toThrow(
      /FETCHBOX_STORE_X_S3_QUEUE_SIZE/,
    );
    // A key without its secret (or the other way round) is refused; the secret's value is never echoed.
    let message = '';
    try {
      loadConfig({ FETCHBOX_STORE_X_URL: 's3://b', FETCHBOX_STORE_X_S3_SECRET_ACCESS_KEY: 'hunter2-secret' });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/storage\.stores\.x\.s3\.accessKeyId.*given together/);
    expect(message).not.toContain('hunter2');
  });

  it('keeps `default` for FETCHBOX_STORAGE_URL and refuses names that are not store names', async () => {
    const badNameFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stores-')), 'bad.json');
    await writeFile(badNameFile, JSON.stringify({ storage: { stores: { 'Hot Data': { url: 's3://b' } } } }));
    expect(() => loadConfig({ FETCHBOX_STORE_DEFAULT_URL: 's3://b' })).toThrow(/default store is storage\.url/);
    // Names are refused by the same rule manifests and policies follow.
    expect(() => loadConfig({ FETCHBOX_CONFIG: badNameFile })).toThrow(/storage\.stores\.Hot Data: store names are/);
  });

  it('stops at load when handlers.<name>.policy names a store no configuration declares', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stores-'));
    const file = path.join(dir, 'fetchbox.json');
    await writeFile(file, JSON.stringify({ handlers: { crawl: { policy: { store: 'imagez', allowedStores: ['default', 'nope'] } } } }));
    let err: unknown;
    try {
      loadConfig({ FETCHBOX_CONFIG: file, ...STORES_ENV });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.setting)).toEqual([
      'handlers.crawl.policy.store',
      'handlers.crawl.policy.allowedStores',
    ]);
    expect((err as Error).message).toMatch(/store "imagez" is not configured \(known: "default", "images", "cold_archive"\)/);
    await writeFile(file, JSON.stringify({ handlers: { crawl: { policy: { store: 'images', allowedStores: ['default'] } } } }));
    expect(loadConfig({ FETCHBOX_CONFIG: file, ...STORES_ENV }).handlers.crawl?.policy.store).toBe('images');
  });
});

describe('the store registry', () => {
  it('builds one driver per store: the default from FETCHBOX_STORAGE_URL, named ones with their own settings', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stores-'));
    const stores = createStoreRegistry(loadConfig({ ...STORES_ENV, FETCHBOX_STORAGE_URL: `file://${dir}` }));
    expect(stores.names()).toEqual(['default', 'images', 'cold_archive']);
    expect(stores.default).toBeInstanceOf(FileStorage);
    expect(stores.resolve(undefined)).toBe(stores.default);
    const images = stores.resolve('images') as S3Storage;
    expect(images.url).toBe('s3://images-bucket/crawl');
    expect(await images.client.config.region()).toBe('us-east-2'); // left out: taken from storage.s3
    expect(await images.client.config.credentials()).toMatchObject({ accessKeyId: 'images-key', secretAccessKey: 'images-secret-value' });
    expect(await (stores.resolve('cold_archive') as S3Storage).client.config.region()).toBe('eu-west-1');
    expect(() => stores.resolve('imagez')).toThrow(UnknownStoreError);
    await stores.close();
  });

  it('checks every store at start and names each one that failed; /readyz gets one check per store', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stores-'));
    const blocker = path.join(dir, 'not-a-dir');
    await writeFile(blocker, 'x');
    const config = loadConfig({
      FETCHBOX_STORAGE_URL: `file://${dir}/default`,
      FETCHBOX_STORE_LOCAL_URL: `file://${dir}/local`,
      FETCHBOX_STORE_BROKEN_URL: `file://${blocker}/sub`,
    });
    const stores = createStoreRegistry(config);
    const err = await checkStores(stores).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as StoreUnavailableError).failed.map((f) => f.name)).toEqual(['broken']);
    const checks = storeChecks(stores);
    expect(checks.map((c) => c.name)).toEqual(['storage', 'storage.local', 'storage.broken']);
    await expect(checks[1]!.check()).resolves.toBeUndefined();
    await expect(checks[2]!.check()).rejects.toThrow();
  });

  it('refuses to start a process whose handler code names an unknown store', () => {
    const config = loadConfig(STORES_ENV);
    const bad = defineHandler({ name: 'bad', policy: { store: 'nowhere' } });
    expect(() => assertHandlerStores(config, new HandlerRegistry([...BUILT_IN_HANDLERS, bad]))).toThrow(
      /handler "bad" policy\.store \(in its code\): store "nowhere" is not configured/,
    );
    const good = defineHandler({ name: 'good', policy: { store: 'images', allowedStores: ['cold_archive'] } });
    expect(() => assertHandlerStores(config, new HandlerRegistry([good]))).not.toThrow();
  });
});

describe('a manifest may name only a store its handler allows', () => {
  const config = loadConfig(STORES_ENV);
  const handler = defineHandler({ name: 'crawl', policy: { store: 'images', allowedStores: ['cold_archive', 'default'] } });
  const policy = resolvePolicy(config, handler);

  it('takes the handler policy store, and the manifest store when allowed', () => {
    expect(policy.store).toBe('images');
    expect(policy).not.toHaveProperty('allowedStores');
    expect(applyManifestStore(config, handler, {}, policy).store).toBe('images');
    expect(applyManifestStore(config, handler, { store: 'cold_archive' }, policy).store).toBe('cold_archive');
    expect(applyManifestStore(config, handler, { store: 'default' }, policy)).not.toHaveProperty('store');
    expect(applyManifestStore(config, handler, { store: 'images' }, policy).store).toBe('images'); // its own store
  });

  it('answers 400 invalid_manifest with details for an unknown or disallowed store', () => {
    const answer = (store: string) => {
      try {
        applyManifestStore(config, handler, { store }, policy);
      } catch (err) {
        return err as ApiError;
      }
      throw new Error('accepted');
    };
    const unknown = answer('imagez');
    expect(unknown.status).toBe(400);
    expect(unknown.code).toBe('invalid_manifest');
    expect(JSON.stringify(unknown.details)).toMatch(
      /"path":"store".*unknown store \\"imagez\\"; this handler allows: \\"cold_archive\\", \\"default\\"/,
    );
    const plain = defineHandler({ name: 'plain' });
    try {
      applyManifestStore(config, plain, { store: 'images' }, resolvePolicy(config, plain));
      throw new Error('accepted');
    } catch (err) {
      expect((err as ApiError).status).toBe(400);
      expect(JSON.stringify((err as ApiError).details)).toMatch(
        /handler \\"plain\\" does not allow store \\"images\\"; this handler allows: none/,
      );
    }
  });

  it('makes the store part of the idempotency hash only when given', () => {
    const resources = [{ id: '0', url: 'https://example.test/a' }];
    expect(manifestHash('default', undefined, resources, undefined)).toBe(manifestHash('default', undefined, resources));
    expect(manifestHash('default', undefined, resources, 'images')).not.toBe(manifestHash('default', undefined, resources));
  });
});

describe('tasks carry their store', () => {
  const ctx = { jobId: 'j', handler: 'router', metadata: {}, settings: {} } as unknown as HandlerContext;
  const tasks = [
    { id: 'a', url: 'https://example.test/a.jpg', key: 'j/a.jpg' },
    { id: 'b', url: 'https://example.test/b.txt', key: 'j/b.txt', store: 'cold_archive' },
    { id: 'c', url: 'https://example.test/c.bin', key: 'j/c.bin' },
  ];

  it('storeFor chooses store and prefix, else the task keeps its own, else the job store; default is left out', async () => {
    const router = defineHandler({
      name: 'router',
      storeFor: (task) =>
        task.url.endsWith('.jpg') ? { store: 'images', prefix: 'pics' } : task.id === 'c' ? { store: 'default' } : undefined,
    });
    const out = await assignStores(new HandlerRegistry([router]), ctx, tasks, 'images');
    expect(out).toEqual([
      { id: 'a', url: 'https://example.test/a.jpg', key: 'pics/j/a.jpg', store: 'images' },
      { id: 'b', url: 'https://example.test/b.txt', key: 'j/b.txt', store: 'cold_archive' },
      { id: 'c', url: 'https://example.test/c.bin', key: 'j/c.bin' },
    ]);
    const plain = defineHandler({ name: 'router' });
    expect((await assignStores(new HandlerRegistry([plain]), ctx, [tasks[0]!], undefined))[0]).not.toHaveProperty('store');
    expect((await assignStores(new HandlerRegistry([plain]), ctx, [tasks[0]!], 'images'))[0]!.store).toBe('images');
  });

  it('a storeFor that throws is a handler hook failure', async () => {
    const broken = defineHandler({
      name: 'router',
      storeFor: () => {
        throw new Error('no idea');
      },
    });
    await expect(assignStores(new HandlerRegistry([broken]), ctx, tasks, undefined)).rejects.toThrow(/handler storeFor failed: no idea/);
  });

  it('an unknown store fails the resource with kind handler; objectOptions may move the object to another store', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stores-'));
    const stores = createStoreRegistry(
      loadConfig({ FETCHBOX_STORAGE_URL: `file://${dir}/d`, FETCHBOX_STORE_LOCAL_URL: `file://${dir}/l` }),
    );
    expect(() => storageFor(stores, 'nowhere', 2)).toThrow(expect.objectContaining({ type: 'handler', nonRetryable: true }));
    const task = tasks[0]!;
    expect(objectStorage(stores, task, stores.default, {}, 1)).toEqual({ storage: stores.default });
    expect(objectStorage(stores, task, stores.default, { store: 'default' }, 1)).toEqual({ storage: stores.default });
    expect(objectStorage(stores, task, stores.default, { store: 'local' }, 1)).toEqual({
      storage: stores.resolve('local'),
      store: 'local',
    });
    expect(objectStorage(stores, { ...task, store: 'local' }, stores.resolve('local'), { store: 'default' }, 1)).toEqual({
      storage: stores.default,
      store: 'default',
    });
  });

  it('the API counts a task store in the page budget when the job may carry one', () => {
    expect(jsonBytes({ store: 'x'.repeat(32) }) - jsonBytes({})).toBeLessThanOrEqual(MAX_STORE_FIELD_BYTES);
    const resources = Array.from({ length: 1500 }, (_, i) => ({
      id: String(i),
      url: `https://example.test/${'u'.repeat(60)}/${i}`,
      key: 'k'.repeat(40),
    }));
    const without = paginate(resources, 5000);
    const withStore = paginate(resources, 5000, undefined, MAX_STORE_FIELD_BYTES);
    expect(withStore.length).toBeGreaterThanOrEqual(without.length);
    expect(withStore.flat()).toEqual(resources);
  });
});

describe('a download looks for existing objects in its task store', () => {
  it('skip-if-present and the resume check find the object in the named store, not in default', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-stores-'));
    const stores = createStoreRegistry(
      loadConfig({ FETCHBOX_STORAGE_URL: `file://${dir}/d`, FETCHBOX_STORE_LOCAL_URL: `file://${dir}/l` }),
    );
    const url = 'https://example.test/a.bin';
    const opened: string[] = [];
    // A fetcher that records what it was asked for and refuses: any request means the lookup missed.
    const fetcher = {
      open: async (req: { url: string }) => {
        opened.push(req.url);
        throw new Error('no network in this test');
      },
      close: async () => undefined,
    } as unknown as Fetcher;
    const handlers = new HandlerRegistry(BUILT_IN_HANDLERS);
    const hooks = createHandlerHooks({ storage: stores.default, fetcher, handlers });
    const downloadOne = createDownloadOne({ storage: stores.default, stores, fetcher, handlers, hooks });
    const body = Buffer.from('stored earlier');
    await stores.resolve('local').put({
      key: 'j/a.bin',
      body: [body],
      // Fetched with no request headers, as the task below asks: skip-if-present serves only the same request.
      metadata: { 'source-url': url, 'resource-id': 'a', 'page-run': 'run-1', [VALIDATOR_METADATA.requestDigest]: requestDigest({}) },
    });
    const input = { jobId: 'j', handler: 'default', maxBytes: 1 << 20, proxyTiers: ['direct'], attemptsPerTier: 1 };
    const task = { id: 'a', url, key: 'j/a.bin', store: 'local' };
    const never = new AbortController().signal;
    const skipped = await downloadOne({ ...input, skipExisting: {} }, task, 1, never, () => undefined, { retried: false });
    expect(skipped).toMatchObject({ skipped: true, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    const resumed = await downloadOne(input, task, 2, never, () => undefined, { retried: true, runId: 'run-1' });
    expect(resumed).toMatchObject({ tier: 'resumed', bytes: body.length });
    expect(opened).toEqual([]);
    // The same task in the default store finds nothing there and goes to the network.
    const { store: _, ...inDefault } = task;
    await expect(downloadOne({ ...input, skipExisting: {} }, inDefault, 1, never, () => undefined, { retried: false })).rejects.toThrow();
    expect(opened).toEqual([url]);
    await stores.close();
  });
});
