import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidKeyError, ObjectNotFoundError, StorageError } from './errors.js';
import { assertUserKey, assertValidKey } from './keys.js';
import { MeasuringStream } from './measure.js';
import { FilePartials, fileError } from './file-partials.js';
import type { ObjectInfo, PutObjectInput, ResumableWrites, Storage, StoredObject } from './storage.js';

/** Folder under the root that holds object metadata, one JSON file per object body (reserved area). */
const METADATA_DIR = '.fetchbox-metadata';

/** Where versions before the one-rename commit kept metadata, as `<key>.json` (read, never written). */
const LEGACY_META_DIR = '.fetchbox-meta';

/** The longest key segment the file driver can commit: a file or folder name (Linux NAME_MAX, in bytes). */
const MAX_FILE_SEGMENT_BYTES = 255;

/**
 * Where the metadata of the body with inode `ino` at `key` lives:
 * `<root>/.fetchbox-metadata/<h0h1>/<sha256(key)>-<ino>.json`. Naming the file by the body's inode is
 * what makes a commit one rename: the metadata of a new body is written first under a name no
 * reader looks for, and becomes the object's metadata at the instant the body is renamed over the
 * key (a rename keeps the inode). A reader stats the body, then reads the metadata of that inode,
 * so it sees the old pair or the new pair, never one body with another's metadata. The name is a
 * hash, so any key that fits the body tree fits here (no NAME_MAX or file-beside-folder clash).
 */
export function metadataPath(root: string, key: string, ino: bigint): string {
  const digest = createHash('sha256').update(key).digest('hex');
  return path.join(root, METADATA_DIR, digest.slice(0, 2), `${digest}-${ino}.json`);
}

/**
 * Where versions before the one-rename commit kept an object's metadata (`<key>.json`), read
 * only for bodies that have no metadata under {@link metadataPath} (written before the upgrade)
 * and removed when the key is written again. A separate folder: no user key can name a file of
 * the current layout through it (its first segment would start with `.fetchbox`).
 */
function legacyMetadataPath(root: string, key: string): string {
  return path.join(root, LEGACY_META_DIR, `${key}.json`);
}

/** A body as {@link readObjectMetadata} found it: its stat and the metadata recorded for exactly it. */
interface FoundObject {
  bytes: number;
  mtime: Date;
  metadata: Record<string, string>;
}

/**
 * The body at `file` and its metadata, or undefined when there is no body. A writer may replace the
 * body (and remove the old metadata) between the stat and the read: the read is retried with the
 * new inode, so the answer is one consistent pair. A body without metadata of its own (left by a
 * version before this one, whose `<key>.json` is then used) reads as `{}`: present, unverified.
 */
async function readObjectMetadata(root: string, key: string, file: string): Promise<FoundObject | undefined> {
  for (let tries = 0; ; tries++) {
    const info = await stat(file, { bigint: true }).catch(() => undefined);
    if (!info || !info.isFile()) return undefined;
    const found = (metadata: Record<string, string>): FoundObject => ({ bytes: Number(info.size), mtime: info.mtime, metadata });
    const own = await readJson(metadataPath(root, key, info.ino));
    if (own !== undefined) return found(own);
    const again = await stat(file, { bigint: true }).catch(() => undefined);
    if (again && again.ino !== info.ino && tries < 3) continue; // replaced meanwhile: read the new pair
    return found((await readJson(legacyMetadataPath(root, key))) ?? {});
  }
}

async function readJson(file: string): Promise<Record<string, string> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, string>) : undefined;
  } catch {
    return undefined; // absent, or a name too long for the file system (legacy path of a long key)
  }
}

/** Folder under the root that holds in-flight bodies; renamed into place only when whole. */
const TMP_DIR = '.fetchbox-tmp';

/** File-system answers that mean the key itself cannot be committed here (not a passing failure). */
const KEY_CLASH_CODES = new Set(['ENAMETOOLONG', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENOTEMPTY']);

/**
 * Stores objects as files under a root directory: the default for `fetchbox dev` and single-host
 * setups. A body streams into a temporary file in the same filesystem, is fsynced, and is renamed
 * over its key only after size and sha256 were verified, so readers never see a partial object.
 */
export class FileStorage implements Storage {
  readonly url: string;

  /** Resumable writes through `<root>/.fetchbox-tmp/partial/` (file-partials.ts); user keys only. */
  readonly resumable: ResumableWrites;

  constructor(readonly root: string) {
    this.root = path.resolve(root);
    this.url = `file://${this.root}`;
    this.resumable = new FilePartials(path.join(this.root, TMP_DIR, 'partial'), (tmp, input, sha256) => {
      assertUserKey(input.key);
      return this.commit(tmp, input, sha256);
    });
  }

  /** The body's path; a segment longer than a file name may be (255 bytes) is an InvalidKeyError. */
  private pathFor(key: string): string {
    assertValidKey(key);
    const long = key.split('/').find((segment) => Buffer.byteLength(segment) > MAX_FILE_SEGMENT_BYTES);
    if (long !== undefined) throw new InvalidKeyError(key, `a segment is longer than ${MAX_FILE_SEGMENT_BYTES} bytes, the file name limit`);
    return path.join(this.root, key);
  }

  /** Directories this process created or saw; saves a mkdir per object on the hot path. */
  private readonly knownDirs = new Set<string>();

  private async ensureDir(dir: string): Promise<void> {
    if (this.knownDirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.knownDirs.size >= 10_000) this.knownDirs.clear();
    this.knownDirs.add(dir);
  }

  /**
   * Runs `fn`, which creates an entry in `dir`; when `dir` was removed since it was last seen
   * (pruning), creates it again and runs `fn` once more.
   */
  private async inDir<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.knownDirs.delete(dir);
      await this.ensureDir(dir);
      return fn();
    }
  }

  /** Stores a user object; keys in FetchBox's reserved area (`.fetchbox*` segments) are refused. */
  async put(input: PutObjectInput): Promise<StoredObject> {
    assertUserKey(input.key);
    return this.write(input);
  }

  /** Writes any valid key, the reserved area included: FetchBox's own documents come this way. */
  private async write(input: PutObjectInput): Promise<StoredObject> {
    const tmpDir = path.join(this.root, TMP_DIR);
    const tmp = path.join(tmpDir, randomUUID());
    const measure = new MeasuringStream(input.key, input);
    try {
      await this.ensureDir(tmpDir);
      const body = input.body instanceof Readable ? input.body : Readable.from(input.body);
      // One open for writing and fsync: the body is on disk before it is renamed into place.
      const handle = await this.inDir(tmpDir, () => open(tmp, 'w'));
      // `flush`: the stream fsyncs the file before it closes it (and closes it on error too).
      await pipeline(body, measure, createWriteStream('', { fd: handle, flush: true }));
      const sha256 = measure.sha256();
      await this.commit(tmp, input, sha256);
      return { key: input.key, bytes: measure.bytes, sha256 };
    } catch (err) {
      await rm(tmp, { force: true });
      throw fileError(err, input.key);
    }
  }

  /**
   * Commits a whole, verified, fsynced body: its metadata is written (fsynced) under the name of
   * the body's inode, where no reader looks yet, and then ONE rename moves the body over its key.
   * Readers stat the body and read the metadata of that inode ({@link readObjectMetadata}), so before the
   * rename they see the old pair, after it the new pair. Afterwards the old body's metadata is
   * removed. A failure at any step leaves the old pair; a key that cannot exist here (a folder
   * where the body goes, a body where a folder is needed) is an InvalidKeyError, never retried.
   */
  private async commit(tmp: string, input: Pick<PutObjectInput, 'key' | 'metadata' | 'contentType'>, sha256: string): Promise<void> {
    const target = this.pathFor(input.key);
    const metaTmp = `${tmp}.meta`;
    let metaPath: string | undefined;
    try {
      const metadata = { ...input.metadata, sha256, ...(input.contentType ? { 'content-type': input.contentType } : {}) };
      const { ino } = await stat(tmp, { bigint: true });
      metaPath = metadataPath(this.root, input.key, ino);
      await Promise.all([this.ensureDir(path.dirname(metaPath)), this.ensureDir(path.dirname(target))]);
      await writeFile(metaTmp, JSON.stringify(metadata), { flush: true });
      await this.inDir(path.dirname(metaPath), () => rename(metaTmp, metaPath!));
      const previous = await lstat(target, { bigint: true }).catch(() => undefined);
      await this.inDir(path.dirname(target), () => rename(tmp, target)); // the commit
      if (previous?.isFile()) {
        await rm(metadataPath(this.root, input.key, previous.ino), { force: true }).catch(() => undefined);
        // Only a key that held a body can have metadata in the old layout: a new key costs no unlink.
        await rm(legacyMetadataPath(this.root, input.key), { force: true }).catch(() => undefined);
      }
    } catch (err) {
      await rm(metaTmp, { force: true });
      if (metaPath !== undefined) await rm(metaPath, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== undefined && KEY_CLASH_CODES.has(code)) {
        throw new InvalidKeyError(
          input.key,
          `cannot be stored here (${code}: another key is a file where this one needs a folder, or the reverse)`,
        );
      }
      throw err;
    }
  }

  /** FetchBox's own JSON documents (staged manifests and pages); may write the reserved area. */
  async putJson(key: string, value: unknown): Promise<StoredObject> {
    const text = JSON.stringify(value);
    return this.write({ key, body: [Buffer.from(text)], contentType: 'application/json' });
  }

  async getJson<T>(key: string): Promise<T> {
    try {
      return JSON.parse(await readFile(this.pathFor(key), 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ObjectNotFoundError(key);
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.pathFor(key);
    try {
      await stat(file);
    } catch {
      throw new ObjectNotFoundError(key);
    }
    return createReadStream(file);
  }

  /** The body's size and the metadata recorded for exactly that body ({@link readObjectMetadata}), or undefined. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    let file: string;
    try {
      file = this.pathFor(key);
    } catch {
      return undefined; // a key no object can have
    }
    const found = await readObjectMetadata(this.root, key, file);
    return found && { key, bytes: found.bytes, metadata: found.metadata, lastModified: found.mtime };
  }

  async check(): Promise<void> {
    const dir = path.join(this.root, TMP_DIR);
    const probe = path.join(dir, `probe-${randomUUID()}`);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(probe, 'ok');
      await rm(probe, { force: true });
    } catch (err) {
      throw new StorageError(`file storage at ${this.root} is not writable: ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {}
}
