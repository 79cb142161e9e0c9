import type { ApplicationFailure } from '@temporalio/activity';
import { ErrorKind, FetchFailure } from '../fetch/errors.js';
import type { Fetcher, OpenRequest } from '../fetch/fetcher.js';
import type { OpenResponse } from '../fetch/response.js';
import { MAX_VALIDATOR_URL_CHARS, cleanEtag, isStrongEtag } from '../fetch/validators.js';
import { StorageError } from '../storage/errors.js';
import { RESUMABLE_MIN_BYTES, partialId } from '../storage/partials.js';
import type { PartialCheckpoint, PartialTarget } from '../storage/storage.js';
import type { PutObjectInput, Storage, StoredObject } from '../storage/storage.js';
import type { DownloadTask } from '../model/job-types.js';
import type { ActivityRun } from './resume-check.js';

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

/** Whether a response's body is sent as it is (no `Content-Encoding`, or `identity`). */
function identityEncoded(res: Pick<OpenResponse, 'contentEncoding'>): boolean {
  const encoding = res.contentEncoding?.trim().toLowerCase();
  return encoding === undefined || encoding === '' || encoding === 'identity';
}

/** The response's strong ETag, cleaned (validators.ts); undefined for a weak, malformed or missing one. */
function strongEtagOf(res: Pick<OpenResponse, 'etag'>): string | undefined {
  const etag = cleanEtag(res.etag);
  return etag !== undefined && isStrongEtag(etag) ? etag : undefined;
}

/**
 * Whether a full (200) response can be written resumably: large enough, with a known length, not
 * content-encoded, and an origin that says it serves byte ranges and names the representation with
 * a strong ETag (byte-for-byte identity; a Last-Modified date is not proof that two ranges belong
 * to one representation). Otherwise undefined: an interruption then starts over.
 */
function resumableTarget(id: string, res: OpenResponse): PartialTarget | undefined {
  if (res.status !== 200 || res.contentLength === undefined || res.contentLength < RESUMABLE_MIN_BYTES) return undefined;
  if (!/(^|,)\s*bytes\s*(,|$)/i.test(res.acceptRanges ?? '') || res.url.length > MAX_VALIDATOR_URL_CHARS) return undefined;
  const validator = strongEtagOf(res);
  if (validator === undefined || !identityEncoded(res)) return undefined;
  return { id, total: res.contentLength, validator, url: res.url };
}

/**
 * Whether a 206 continues `checkpoint` exactly: from the URL that served the prefix, with the
 * checkpoint's strong ETag (an origin or CDN that ignores `If-Range` while the content changed
 * answers another one), not content-encoded (like the prefix), and a `Content-Range` starting at
 * the offset to the same total.
 */
function continues(res: OpenResponse, checkpoint: PartialCheckpoint): boolean {
  return (
    res.status === 206 &&
    res.url === checkpoint.url &&
    strongEtagOf(res) === checkpoint.validator &&
    identityEncoded(res) &&
    rangeMatches(res.contentRange, checkpoint.offset, checkpoint.total)
  );
}

/**
 * A response to a request without `Range` as a whole body: a 206 there (an origin or a proxy
 * sending part of something unasked) is refused (`http_status`, permanent), never stored.
 */
async function wholeBody(res: OpenResponse): Promise<OpenResponse> {
  if (res.status !== 206) return res;
  await res.body.dump().catch(() => undefined);
  throw new FetchFailure(ErrorKind.httpStatus, `HTTP 206 (a partial body) from ${res.url} to a request without Range`, false, {
    url: res.url,
    httpStatus: 206,
  });
}

/**
 * Opens a download, continuing an interrupted one where the storage kept its prefix: with a
 * checkpoint for this task, the request asks `Range: bytes=<offset>-` with `If-Range: <strong
 * ETag>` (no conditional-recrawl headers), and the answer is used only when it {@link continues}
 * the checkpoint, which then goes with it to storage (the one it was validated against). A 200
 * (the origin ignores Range, or the representation changed) is the whole new body: the prefix is
 * dropped and it is stored from byte 0. Any other 206 or a 416 drops the prefix and asks again
 * without Range. Checkpoints are only looked for on retries (`retried`): a first attempt costs
 * nothing extra. A 206 to a request without Range is refused ({@link wholeBody}).
 */
export async function openResumable(
  fetcher: Fetcher,
  storage: Storage,
  task: DownloadTask,
  req: OpenRequest,
  retried: boolean,
): Promise<OpenedBody> {
  const partials = storage.resumable;
  if (!partials) return { res: await wholeBody(await fetcher.open(req)) };
  const id = partialId(task.key, task.url, task.headers);
  const fresh = async (opened: OpenResponse): Promise<OpenedBody> => {
    const res = await wholeBody(opened);
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
  if (res !== undefined && continues(res, checkpoint)) {
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

/**
 * After a failed download attempt: when the resource failed for good (a permanent failure, or the
 * last attempt Temporal makes), its partial download in the task's store is removed, since no
 * attempt will continue it. Other failures keep it for the next attempt. Never throws: a removal
 * that fails is left to the partial sweeper (partial-sweeper.ts).
 */
export async function dropPartialIfFinal(
  storage: Storage,
  task: DownloadTask,
  failure: ApplicationFailure,
  run: ActivityRun,
): Promise<void> {
  if (!storage.resumable || !(failure.nonRetryable || run.lastAttempt === true)) return;
  await storage.resumable.drop(partialId(task.key, task.url, task.headers)).catch(() => undefined);
}
