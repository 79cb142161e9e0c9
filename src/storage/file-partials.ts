import { constants as fsConstants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, stat, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BodyRejectedError, StorageError } from './errors.js';
import { MeasuringStream } from './measure.js';
import { CHECKPOINT_EVERY_MS, sameTarget } from './partials.js';
import type { PartialCheckpoint, PartialSweep, PartialSweepOptions, ResumablePut, ResumableWrites } from './storage.js';
import type { PutObjectInput, StoredObject } from './storage.js';

/** A file-system error as the drivers report it (StorageError, retryable); anything else as it is. */
export function fileError(err: unknown, key: string): unknown {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string' && /^E[A-Z]+$/.test(err.code)) {
    return new StorageError(`file storage: ${err.message}`, key, { cause: err });
  }
  return err;
}

/** Commits a whole, verified body file to its key (FileStorage's commit). */
type Commit = (tmp: string, input: Pick<PutObjectInput, 'key' | 'metadata' | 'contentType'>, sha256: string) => Promise<void>;

/** A checkpoint as stored: the public one plus the data file it describes. */
interface StoredCheckpoint extends PartialCheckpoint {
  v: 1;
  file: string;
}

const ID = /^[0-9a-f]{64}$/;

function isCheckpoint(value: unknown, id: string): value is StoredCheckpoint {
  const c = value as StoredCheckpoint;
  return (
    typeof c === 'object' &&
    c !== null &&
    c.v === 1 &&
    c.id === id &&
    typeof c.file === 'string' &&
    c.file.startsWith(`${id}-`) &&
    /^[0-9a-f-]+$/.test(c.file.slice(id.length + 1)) &&
    Number.isSafeInteger(c.offset) &&
    Number.isSafeInteger(c.total) &&
    c.offset >= 0 &&
    c.offset <= c.total &&
    typeof c.validator === 'string' &&
    typeof c.url === 'string'
  );
}

/**
 * The file driver's resumable writes. Under `dir` (`<root>/.fetchbox-tmp/partial/`): data files
 * `<id>-<uuid>` and checkpoints `<id>.json` naming the data file and its synced length. A
 * checkpoint is written only after an fdatasync of the bytes it counts, so after a crash (even of
 * the machine) the prefix it names is on disk. A resuming attempt copies the prefix into a data
 * file of its own (an attempt that is still writing the old one, cut off from Temporal, cannot
 * touch it), re-hashes it, and streams the rest after it; the object is committed (renamed to its
 * key) only when whole and verified, exactly like `put`.
 */
export class FilePartials implements ResumableWrites {
  constructor(
    private readonly dir: string,
    private readonly commit: Commit,
  ) {}

  private json(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  private async read(id: string): Promise<StoredCheckpoint | undefined> {
    if (!ID.test(id)) return undefined;
    try {
      const parsed: unknown = JSON.parse(await readFile(this.json(id), 'utf8'));
      return isCheckpoint(parsed, id) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }

  /** Writes a checkpoint atomically (temporary file, then rename). */
  private async write(checkpoint: StoredCheckpoint): Promise<void> {
    const tmp = path.join(this.dir, `${checkpoint.id}.json.${randomUUID()}`);
    await writeFile(tmp, JSON.stringify(checkpoint));
    await rename(tmp, this.json(checkpoint.id));
  }

  async find(id: string): Promise<PartialCheckpoint | undefined> {
    const checkpoint = await this.read(id);
    if (!checkpoint) return undefined;
    const size = await stat(path.join(this.dir, checkpoint.file)).then(
      (s) => s.size,
      () => -1,
    );
    if (checkpoint.offset === 0 || size < checkpoint.offset) {
      await this.drop(id);
      return undefined;
    }
    const { v: _, file: __, ...found } = checkpoint;
    return found;
  }

  async drop(id: string): Promise<void> {
    const checkpoint = await this.read(id);
    await rm(this.json(id), { force: true });
    if (checkpoint) await rm(path.join(this.dir, checkpoint.file), { force: true });
  }

  /**
   * Removes partials untouched for `maxAgeMs` (data files, checkpoints, and checkpoint temp files:
   * a checkpoint is rewritten every second while its body streams, so only abandoned ones age) and
   * adds up the data files it keeps. Entries are taken in name order after `cursor`, at most
   * `maxEntries` per call.
   */
  async sweep({ maxAgeMs, maxEntries, cursor, now = Date.now() }: PartialSweepOptions): Promise<PartialSweep> {
    const names = (await readdir(this.dir).catch(() => [] as string[])).filter((n) => cursor === undefined || n > cursor).sort();
    const batch = names.slice(0, maxEntries);
    let removed = 0;
    let bytes = 0;
    for (const name of batch) {
      const file = path.join(this.dir, name);
      const info = await stat(file).catch(() => undefined);
      if (!info) continue;
      if (now - info.mtimeMs > maxAgeMs) {
        // A checkpoint goes with its data file (drop); a data file or temp file on its own.
        const id = /^([0-9a-f]{64})\.json$/.exec(name)?.[1];
        if (id !== undefined) await this.drop(id).catch(() => undefined);
        else await rm(file, { force: true }).catch(() => undefined);
        removed++;
      } else if (!name.includes('.json')) {
        bytes += info.size;
      }
    }
    return { removed, bytes, ...(names.length > maxEntries ? { next: batch.at(-1) } : {}) };
  }

  async put(input: ResumablePut): Promise<StoredObject> {
    const { partial } = input;
    const file = `${partial.id}-${randomUUID()}`;
    const data = path.join(this.dir, file);
    const target = { v: 1 as const, id: partial.id, total: partial.total, validator: partial.validator, url: partial.url, file };
    let handle: FileHandle | undefined;
    let writer: ReturnType<typeof createWriteStream> | undefined;
    let start = 0;
    try {
      await mkdir(this.dir, { recursive: true });
      const hash = createHash('sha256');
      if (partial.from !== undefined) {
        start = partial.from;
        const previous = await this.read(partial.id);
        // The checkpoint must be the one the continuation was validated against (resumable-download.ts).
        if (!previous || !sameTarget(previous, partial) || previous.offset < start)
          throw new StorageError(`the partial download of ${input.key} is gone; starting over`, input.key);
        // A copy of our own (a reflink where the file system has them), cut to the synced prefix.
        await copyFile(path.join(this.dir, previous.file), data, fsConstants.COPYFILE_FICLONE);
        if ((await stat(data)).size < start)
          throw new StorageError(`the partial download of ${input.key} is shorter than its checkpoint`, input.key);
        await truncate(data, start);
        // Re-hashed from local disk; progress is reported meanwhile so the activity keeps heartbeating.
        let hashed = 0;
        if (start > 0) {
          for await (const chunk of createReadStream(data, { start: 0, end: start - 1 })) {
            hash.update(chunk as Buffer);
            hashed += (chunk as Buffer).length;
            input.onProgress?.(hashed);
          }
        }
        handle = await open(data, 'r+');
        await handle.datasync();
        await this.write({ ...target, offset: start });
        await rm(path.join(this.dir, previous.file), { force: true });
      } else {
        await this.drop(partial.id);
        handle = await open(data, 'w');
        await this.write({ ...target, offset: 0 });
      }
      const measure = new MeasuringStream(input.key, { ...input, resumeFrom: { bytes: start, hash } });
      writer = createWriteStream('', { fd: handle, start, flush: true });
      const body = input.body instanceof Readable ? input.body : Readable.from(input.body);
      const checkpoints = this.checkpointing(handle, writer, { ...target, offset: start });
      try {
        await pipeline(body, measure, writer);
      } finally {
        await checkpoints.stop();
      }
      const sha256 = measure.sha256();
      await this.commit(data, input, sha256);
      // The object is in place: the checkpoint (if it is still ours) goes.
      if ((await this.read(partial.id))?.file === file) await rm(this.json(partial.id), { force: true });
      return { key: input.key, bytes: measure.bytes, sha256 };
    } catch (err) {
      if (!writer) await handle?.close().catch(() => undefined);
      // A write the writer had started when the body broke off still lands: wait for it (the writer
      // closes once its pending writes are done), so the checkpoint counts every byte on disk.
      else if (!writer.closed) await new Promise<void>((resolve) => writer!.once('close', () => resolve()));
      // Kept only when the body itself broke off (reset, timeout, cancel) after bytes were written.
      const kept =
        writer !== undefined && !(err instanceof BodyRejectedError) && (await this.keep(data, target, start + writer.bytesWritten));
      if (!kept) {
        // Refused bodies (over the limit, longer than promised) are never resumed; nor is a failed commit.
        if ((await this.read(partial.id))?.file === file) await rm(this.json(partial.id), { force: true });
        await rm(data, { force: true });
      }
      throw fileError(err, input.key);
    }
  }

  /** After a failed body: syncs what was written and checkpoints it; false when there is nothing to keep. */
  private async keep(data: string, target: Omit<StoredCheckpoint, 'offset'>, offset: number): Promise<boolean> {
    if (offset === 0) return false;
    try {
      const handle = await open(data, 'r+');
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
      if ((await this.read(target.id))?.file !== target.file) return false; // another attempt took over
      await this.write({ ...target, offset });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Every {@link CHECKPOINT_EVERY_MS} while the body streams: fdatasync what the writer has
   * written, then record that length. `stop` waits for a checkpoint in progress.
   */
  private checkpointing(handle: FileHandle, writer: { bytesWritten: number }, base: StoredCheckpoint): { stop(): Promise<void> } {
    let last = base.offset;
    let running: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      running = running.then(async () => {
        const offset = base.offset + writer.bytesWritten;
        if (offset <= last) return;
        try {
          await handle.datasync();
          if ((await this.read(base.id))?.file !== base.file) return; // another attempt took over
          await this.write({ ...base, offset });
          last = offset;
        } catch {
          // The writer closed the file (end or error) meanwhile: the final state is handled by put.
        }
      });
    }, CHECKPOINT_EVERY_MS);
    timer.unref();
    return {
      async stop() {
        clearInterval(timer);
        await running;
      },
    };
  }
}
