import type { Config } from '../config/config-schema.js';
import { DEFAULT_STORE, type NamedStoreSettings } from '../config/store-settings.js';
import { FileStorage } from './file-storage.js';
import { S3Storage, type S3StorageOptions } from './s3-storage.js';
import type { Storage } from './storage.js';

/** A storage URL FetchBox cannot use (unknown scheme, missing bucket); names the setting that gave it. */
export class InvalidStorageUrlError extends Error {
  override readonly name = 'InvalidStorageUrlError';
  constructor(
    readonly storageUrl: string,
    reason: string,
    readonly setting = 'FETCHBOX_STORAGE_URL',
  ) {
    super(`${setting} ${JSON.stringify(storageUrl)}: ${reason}`);
  }
}

/** The S3 settings a driver needs besides bucket and prefix. */
type S3Settings = Omit<S3StorageOptions, 'bucket' | 'prefix'>;

/**
 * Builds the driver a storage URL names: `file://<path>` (relative paths resolve against the
 * working directory, so `file://./data/objects` works) or `s3://bucket/prefix`.
 */
function storageFromUrl(url: string, s3: S3Settings, setting: string): Storage {
  if (url.startsWith('file://')) {
    const dir = url.slice('file://'.length);
    if (dir === '') throw new InvalidStorageUrlError(url, 'needs a directory, e.g. file://./data/objects', setting);
    return new FileStorage(decodeURIComponent(dir));
  }
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (bucket === '') throw new InvalidStorageUrlError(url, 'needs a bucket, e.g. s3://my-bucket/fetchbox', setting);
    return new S3Storage({ bucket, prefix, ...s3 });
  }
  throw new InvalidStorageUrlError(url, 'use file://<directory> or s3://<bucket>/<prefix>', setting);
}

/** The default store (`storage.url`, FETCHBOX_STORAGE_URL); S3 credentials from the standard AWS chain. */
export function createStorage(storageConfig: Pick<Config['storage'], 'url' | 's3'>): Storage {
  const { s3 } = storageConfig;
  return storageFromUrl(
    storageConfig.url,
    {
      endpoint: s3.endpoint,
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      partSizeBytes: s3.partSizeBytes,
      queueSize: s3.queueSize,
    },
    'FETCHBOX_STORAGE_URL',
  );
}

/**
 * A named store (`storage.stores.<name>`): its own URL and credentials, the S3 settings it leaves
 * out taken from `storage.s3`. Without credentials it uses the standard AWS chain, like the default.
 */
export function createNamedStorage(name: string, settings: NamedStoreSettings, defaults: Config['storage']['s3']): Storage {
  const s3 = settings.s3;
  const { accessKeyId, secretAccessKey } = s3;
  return storageFromUrl(
    settings.url,
    {
      endpoint: s3.endpoint ?? defaults.endpoint,
      region: s3.region ?? defaults.region,
      forcePathStyle: s3.forcePathStyle ?? defaults.forcePathStyle,
      partSizeBytes: s3.partSizeBytes ?? defaults.partSizeBytes,
      queueSize: s3.queueSize ?? defaults.queueSize,
      ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
    },
    `FETCHBOX_STORE_${name.toUpperCase().replace(/-/g, '_')}_URL`,
  );
}

/** A store name that no configuration declares (a handler hook's answer, a corrupt state). */
export class UnknownStoreError extends Error {
  override readonly name = 'UnknownStoreError';
  constructor(
    readonly store: string,
    readonly known: readonly string[],
  ) {
    super(`unknown store ${JSON.stringify(store)}; configured: ${known.join(', ')}`);
  }
}

/** How one store answered its check, for logs at start and `/readyz`. */
export interface StoreCheck {
  name: string;
  url: string;
  error?: string;
}

/**
 * The configured stores by name, built once per process: `default` (FETCHBOX_STORAGE_URL, where
 * manifests and staging live) and every `storage.stores.<name>`. Downloads resolve a task's store
 * here; nothing else turns a store name into credentials, so a manifest can only ever name one.
 */
export class StoreRegistry {
  private readonly byName: ReadonlyMap<string, Storage>;

  constructor(defaultStore: Storage, named: ReadonlyMap<string, Storage> = new Map()) {
    if (named.has(DEFAULT_STORE)) throw new Error(`the ${DEFAULT_STORE} store is storage.url, not a named store`);
    this.byName = new Map([[DEFAULT_STORE, defaultStore], ...named]);
  }

  /** The default store: manifests, staging and every object without a store choice. */
  get default(): Storage {
    return this.byName.get(DEFAULT_STORE)!;
  }

  /** Every store name, `default` first. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The store `name` names (absent: the default), or UnknownStoreError. */
  resolve(name: string | undefined): Storage {
    const storage = this.byName.get(name ?? DEFAULT_STORE);
    if (!storage) throw new UnknownStoreError(name!, this.names());
    return storage;
  }

  /** Checks every store at once (reachable and writable); one entry per store, `error` when it failed. */
  async checkAll(): Promise<StoreCheck[]> {
    return Promise.all(
      [...this.byName].map(async ([name, storage]) => {
        try {
          await storage.check();
          return { name, url: storage.url };
        } catch (err) {
          return { name, url: storage.url, error: (err as Error).message };
        }
      }),
    );
  }

  /** Closes every store's driver. */
  async close(): Promise<void> {
    await Promise.all([...this.byName.values()].map((s) => s.close()));
  }
}

/** A store that failed its check at start; the process refuses to run without it. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(readonly failed: readonly StoreCheck[]) {
    super(`storage check failed: ${failed.map((f) => `store ${f.name} (${f.url}): ${f.error}`).join('; ')}`);
  }
}

/**
 * The registry of a configuration's stores. `defaultStore` replaces the one `storage.url` names
 * (tests pass a driver with explicit credentials).
 */
export function createStoreRegistry(config: Pick<Config, 'storage'>, defaultStore: Storage = createStorage(config.storage)): StoreRegistry {
  const named = new Map<string, Storage>();
  for (const [name, settings] of Object.entries(config.storage.stores))
    named.set(name, createNamedStorage(name, settings, config.storage.s3));
  return new StoreRegistry(defaultStore, named);
}

/** Checks every store at start; throws StoreUnavailableError naming each one that failed. */
export async function checkStores(stores: StoreRegistry): Promise<StoreCheck[]> {
  const checks = await stores.checkAll();
  const failed = checks.filter((c) => c.error !== undefined);
  if (failed.length > 0) throw new StoreUnavailableError(failed);
  return checks;
}
