import { conditionalFor, type ConditionalRequest } from '../fetch/validators.js';
import type { ObjectInfo } from '../storage/storage.js';
import type { DownloadCommon, DownloadResult } from '../workflows/download-types.js';
import type { DownloadTask } from '../workflows/job-types.js';

/** A conditional re-fetch of a task: what to send, and the object a `304` keeps. */
export interface Revalidation {
  conditional: ConditionalRequest;
  existing: ObjectInfo;
}

/**
 * The conditional request for `task` (conditional recrawls), or undefined: when the job's policy
 * allows it (`revalidate` not false) and the object at its key (`existing`, read once by the
 * download) is a verified object from the same URL, fetched with request headers of the same
 * digest (`digest`, validators.ts `requestDigest`), with stored validators. A key holding another
 * URL's object, or one fetched with other headers, never lends its validators.
 */
export function revalidationFor(
  existing: ObjectInfo | undefined,
  input: Pick<DownloadCommon, 'revalidate'>,
  task: DownloadTask,
  digest: string,
): Revalidation | undefined {
  if (input.revalidate === false || !existing) return undefined;
  const conditional = conditionalFor(existing.metadata, task.url, digest);
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
