import { conditionalFor, hasConditionalHeaders, type ConditionalRequest } from '../fetch/validators.js';
import type { ObjectInfo, Storage } from '../storage/storage.js';
import type { DownloadCommon, DownloadResult } from '../workflows/download-types.js';
import type { DownloadTask } from '../workflows/job-types.js';

/** A conditional re-fetch of a task: what to send, and the object a `304` keeps. */
export interface Revalidation {
  conditional: ConditionalRequest;
  existing: ObjectInfo;
}

/**
 * The conditional request for `task` (conditional recrawls), or undefined: when the job's policy
 * allows it (`revalidate` not false), the request's own headers are not already conditional or
 * partial, and the key holds a verified object from the same URL with stored validators. A key
 * holding another URL's object never lends its validators; a storage that cannot be read means a
 * full download.
 */
export async function revalidationFor(
  storage: Storage,
  input: Pick<DownloadCommon, 'revalidate'>,
  task: DownloadTask,
  headers: Record<string, string>,
): Promise<Revalidation | undefined> {
  if (input.revalidate === false || hasConditionalHeaders(headers)) return undefined;
  const existing = await storage.head(task.key).catch(() => undefined);
  if (!existing) return undefined;
  const conditional = conditionalFor(existing.metadata, task.url);
  return conditional ? { conditional, existing } : undefined;
}

/**
 * The result of a `304 Not Modified`: the existing object's size and sha256 as storage recorded
 * them when it verified the body (never the 304's own headers), nothing uploaded.
 */
export function notModifiedResult(existing: ObjectInfo, tier: string, attempt: number, finalUrl: string): DownloadResult {
  const contentType = existing.metadata['content-type'];
  return {
    tier,
    notModified: true,
    bytes: existing.bytes,
    sha256: existing.metadata.sha256!,
    attempts: attempt,
    finalUrl,
    ...(contentType ? { contentType } : {}),
  };
}
