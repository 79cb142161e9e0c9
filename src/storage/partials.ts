import { createHash } from 'node:crypto';
import type { PartialTarget } from './storage.js';

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

/**
 * The partial name of a download: key, URL and the task's own request headers (a body fetched with
 * other headers, credentials for instance, is another body). A hash, so nothing of them shows on disk.
 */
export function partialId(key: string, url: string, headers: Record<string, string> | undefined): string {
  const sorted = Object.entries(headers ?? {})
    .map(([name, value]) => [name.toLowerCase(), value])
    .sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  return createHash('sha256')
    .update(JSON.stringify([key, url, sorted]))
    .digest('hex');
}

/**
 * Whether a stored checkpoint is for the same body as the target a continuation was validated
 * against (same strong validator, total and URL): a resumed write appends only to that prefix,
 * never to one another attempt started meanwhile for another version of the body.
 */
export function sameTarget(stored: PartialTarget, validated: PartialTarget): boolean {
  return stored.validator === validated.validator && stored.total === validated.total && stored.url === validated.url;
}
