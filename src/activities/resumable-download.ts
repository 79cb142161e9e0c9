import { FetchFailure } from '../fetch/errors.js';
import type { Fetcher, OpenRequest, OpenResponse } from '../fetch/fetcher.js';
import { MAX_VALIDATOR_URL_CHARS, hasConditionalHeaders, isStrongEtag, validatorsOf } from '../fetch/validators.js';
import { StorageError } from '../storage/errors.js';
import { RESUMABLE_MIN_BYTES, partialId } from '../storage/partials.js';
import type { PartialTarget } from '../storage/storage.js';
import type { PutObjectInput, Storage, StoredObject } from '../storage/storage.js';
import type { DownloadTask } from '../workflows/job-types.js';

/** How a body is written: resumably (`partial`; `from` set when it continues a stored prefix) or not. */
export interface OpenedBody {
  res: OpenResponse;
  partial?: PartialTarget & { from?: number };
}

/** `Content-Range: bytes <start>-<total - 1>/<total>` exactly. */
function rangeMatches(contentRange: string | undefined, start: number, total: number): boolean {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange?.trim() ?? '');
  return m !== null && Number(m[1]) === start && Number(m[2]) === total - 1 && Number(m[3]) === total;
}

/**
 * Whether a full (200) response can be written resumably: large enough, with a known length, and
 * an origin that says it serves byte ranges and gives a validator `If-Range` can check (a strong
 * ETag, else Last-Modified). Otherwise undefined: an interruption then starts over, as before.
 */
function resumableTarget(id: string, res: OpenResponse): PartialTarget | undefined {
  if (res.status !== 200 || res.contentLength === undefined || res.contentLength < RESUMABLE_MIN_BYTES) return undefined;
  if (!/(^|,)\s*bytes\s*(,|$)/i.test(res.acceptRanges ?? '') || res.url.length > MAX_VALIDATOR_URL_CHARS) return undefined;
  const { etag, lastModified } = validatorsOf(res);
  const validator = etag !== undefined && isStrongEtag(etag) ? etag : lastModified;
  return validator === undefined ? undefined : { id, total: res.contentLength, validator, url: res.url };
}

/**
 * Opens a download, continuing an interrupted one where the storage kept its prefix: with a
 * checkpoint for this task, the request asks `Range: bytes=<offset>-` with `If-Range: <validator>`
 * (no conditional-recrawl headers), and the answer is used only when it is a 206 from the same URL
 * whose `Content-Range` continues exactly at the offset to the same total. A 200 (the origin
 * ignores Range, or the validator changed) is the whole new body: the prefix is dropped and it is
 * stored from byte 0. A mismatched 206 or a 416 drops the prefix and asks again without Range.
 * Checkpoints are only looked for on retries (`retried`): a first attempt costs nothing extra.
 */
export async function openResumable(
  fetcher: Fetcher,
  storage: Storage,
  task: DownloadTask,
  req: OpenRequest,
  retried: boolean,
): Promise<OpenedBody> {
  const partials = storage.resumable;
  if (!partials || hasConditionalHeaders(req.headers)) return { res: await fetcher.open(req) };
  const id = partialId(task.key, task.url, task.headers);
  const fresh = (res: OpenResponse): OpenedBody => {
    const partial = resumableTarget(id, res);
    return { res, ...(partial ? { partial } : {}) };
  };
  const checkpoint = retried ? await partials.find(id).catch(() => undefined) : undefined;
  if (!checkpoint) return fresh(await fetcher.open(req));
  const { conditional: _, ...plain } = req;
  let res: OpenResponse | undefined;
  try {
    res = await fetcher.open({
      ...plain,
      headers: { ...req.headers, range: `bytes=${checkpoint.offset}-`, 'if-range': checkpoint.validator },
    });
  } catch (err) {
    // 416: the origin will not serve that range (for the same validator): start over. Anything else
    // (503, reset...) fails this attempt and keeps the prefix for the next.
    if (!(err instanceof FetchFailure && err.extra.httpStatus === 416)) throw err;
  }
  if (res?.status === 206 && res.url === checkpoint.url && rangeMatches(res.contentRange, checkpoint.offset, checkpoint.total)) {
    const { offset, ...target } = checkpoint;
    return { res, partial: { ...target, from: offset } };
  }
  if (res?.status === 206) {
    await res.body.dump().catch(() => undefined);
    res = undefined;
  }
  await partials.drop(id).catch(() => undefined);
  return fresh(res ?? (await fetcher.open(req)));
}

/**
 * Stores an opened body: through the storage's resumable writes when it is resumable and goes to
 * the storage it was opened for, else with a plain `put`. A continued body (a 206) that a handler
 * sent to another storage cannot be stored there: the prefix is dropped and the attempt fails
 * retryably, so the next one starts over.
 */
export async function storeBody(target: Storage, opened: Storage, body: OpenedBody, input: PutObjectInput): Promise<StoredObject> {
  const { partial } = body;
  if (partial && target === opened && target.resumable) return target.resumable.put({ ...input, expectedBytes: partial.total, partial });
  if (partial?.from !== undefined) {
    await body.res.body.dump().catch(() => undefined);
    await opened.resumable?.drop(partial.id).catch(() => undefined);
    throw new StorageError(`a resumed download of ${input.key} was sent to another store; starting over`, input.key);
  }
  return target.put(input);
}
