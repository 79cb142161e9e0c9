import { createHash } from 'node:crypto';
import type { PutObjectInput, StoredObject } from './storage.js';

/**
 * Resumable writes: a large body whose download is interrupted (worker killed, connection reset)
 * leaves its verified prefix in the driver's temporary area with a checkpoint, and a later attempt
 * continues from there with `Range` + `If-Range` instead of from byte 0. Partial data never sits at
 * an object's key: an object appears only when the whole body is in and verified (size + sha256
 * over all of it, the stored prefix re-read), exactly as with {@link Storage.put}.
 */

/** Bodies smaller than this are never resumable: starting over costs less than checkpoints. */
export const RESUMABLE_MIN_BYTES = 16 * 1024 * 1024;

/** A checkpoint is written (after the prefix is synced to disk) at most this often. */
export const CHECKPOINT_EVERY_MS = 1_000;

/** Partials untouched for this long are removed (their resource failed or was never retried). */
export const PARTIAL_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** What a resumable body is: the whole size, the validator `If-Range` sends, and the URL that served it. */
export interface PartialTarget {
  /** The partial's name: {@link partialId} of the task. */
  id: string;
  /** The whole body's size (`Content-Length` of the 200, the total of `Content-Range`). */
  total: number;
  /** A strong ETag or a Last-Modified date, as `If-Range` sends it back. */
  validator: string;
  /** The URL (after redirects) whose response started the body; a resumed range must come from it too. */
  url: string;
}

/** A partial an earlier attempt left: its target and how many bytes of it are on disk, synced. */
export interface PartialCheckpoint extends PartialTarget {
  offset: number;
}

/** A resumable put: a fresh body (`from` absent), or the rest of one after `from` stored bytes. */
export type ResumablePut = PutObjectInput & { partial: PartialTarget & { from?: number } };

/** The resumable side of a storage driver (see {@link Storage.resumable}). */
export interface ResumableWrites {
  /** The checkpoint left for `id`, when its synced prefix is still there and not empty. */
  find(id: string): Promise<PartialCheckpoint | undefined>;
  /** Removes the partial of `id` (the body changed, or the origin will not resume it). */
  drop(id: string): Promise<void>;
  /**
   * Like `put`, writing through the partial area: checkpoints while the body streams, keeps the
   * prefix when the body fails short (not when it was refused: over `maxBytes`, longer than
   * promised), and commits the object only when whole. With `from`, the stored prefix of the
   * checkpoint is copied, re-hashed and continued; `expectedBytes` is the whole size.
   */
  put(input: ResumablePut): Promise<StoredObject>;
}

/**
 * The partial name of a download: key, URL and the task's own request headers (a body fetched with
 * other headers, credentials for instance, is another body). A hash, so nothing of them shows on disk.
 */
export function partialId(key: string, url: string, headers: Record<string, string> | undefined): string {
  const sorted = Object.entries(headers ?? {})
    .map(([name, value]) => [name.toLowerCase(), value])
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([key, url, sorted])).digest('hex');
}
