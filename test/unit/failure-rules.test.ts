import type { ApplicationFailure } from '@temporalio/activity';
import { ActivityFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { batchFailure, fail, toFailure } from '../../src/activities/failures.js';
import { FetchFailure } from '../../src/fetch/errors.js';
import { BodyRejectedError, BodyRejection, StorageError } from '../../src/storage/errors.js';
import { downloadFailure } from '../../src/workflows/download-failure.js';
import {
  clipMessage,
  contractKind,
  exhaustedKind,
  failureDetails,
  isRetryable,
  isRetryableHttpStatus,
  readFailure,
  recordedError,
} from '../../src/model/failure-rules.js';
import { ErrorKind } from '../../src/model/constants.js';
import { MAX_MESSAGE_BYTES } from '../../src/model/page-budget.js';

describe('failure rules', () => {
  it('retries 408, 425, 429 and 5xx, no other status', () => {
    expect([408, 425, 429, 500, 503, 599].map(isRetryableHttpStatus)).toEqual([true, true, true, true, true, true]);
    expect([301, 400, 401, 403, 404, 410, 451].map(isRetryableHttpStatus)).toEqual([false, false, false, false, false, false, false]);
  });

  it('says which kinds another attempt may fix', () => {
    for (const kind of ['connection', ErrorKind.timeout, ErrorKind.truncated, ErrorKind.storage] as const)
      expect(isRetryable(kind)).toBe(true);
    for (const kind of [
      ErrorKind.tooLarge,
      ErrorKind.blockedAddress,
      ErrorKind.invalidUrl,
      ErrorKind.handler,
      ErrorKind.retriesExhausted,
    ]) {
      expect(isRetryable(kind)).toBe(false);
    }
    expect(isRetryable(ErrorKind.httpStatus, 503)).toBe(true);
    expect(isRetryable(ErrorKind.httpStatus, 404)).toBe(false);
    expect(isRetryable(ErrorKind.httpStatus)).toBe(false);
  });

  it('keeps timeout, truncated and storage when attempts run out; everything else is retries_exhausted', () => {
    expect(exhaustedKind('timeout')).toBe('timeout');
    expect(exhaustedKind('truncated')).toBe('truncated');
    expect(exhaustedKind('storage')).toBe('storage');
    expect(exhaustedKind('http_status')).toBe('retries_exhausted');
    expect(exhaustedKind('connection')).toBe('retries_exhausted');
    expect(exhaustedKind('nonsense')).toBe('retries_exhausted');
  });

  it('names an unknown kind retries_exhausted and keeps the contract kinds', () => {
    for (const kind of Object.values(ErrorKind)) expect(contractKind(kind)).toBe(kind);
    expect(contractKind('connection')).toBe('retries_exhausted');
  });

  it('reads a failure back from its details, its type, or as storage; message clipped', () => {
    const long = 'x'.repeat(2 * MAX_MESSAGE_BYTES);
    expect(readFailure({ type: 'other', message: long, details: [failureDetails(ErrorKind.httpStatus, 2, 503)] })).toEqual({
      kind: 'http_status',
      message: clipMessage(long),
      httpStatus: 503,
      attempt: 2,
    });
    expect(clipMessage(long)).toHaveLength(MAX_MESSAGE_BYTES);
    expect(readFailure({ type: 'truncated', message: 'm' })).toEqual({ kind: 'truncated', message: 'm' });
    expect(readFailure({ type: null, message: 'm', details: null })).toEqual({ kind: 'storage', message: 'm' });
  });

  it('records the exhausted kind only when attempts ran out', () => {
    const read = { kind: 'http_status', message: 'HTTP 503', httpStatus: 503 };
    expect(recordedError(read, false)).toEqual({ kind: 'http_status', message: 'HTTP 503', httpStatus: 503 });
    expect(recordedError(read, true)).toEqual({ kind: 'retries_exhausted', message: 'HTTP 503', httpStatus: 503 });
  });
});

describe('activity side: ApplicationFailure from the rules', () => {
  it('marks permanent kinds nonRetryable and carries the details the workflow reads', () => {
    const f = fail(ErrorKind.handler, 'bad key', 3);
    expect(f.nonRetryable).toBe(true);
    expect(f.type).toBe('handler');
    expect(f.details).toEqual([{ kind: 'handler', attempt: 3 }]);
    expect(fail(ErrorKind.storage, 'down', 1).nonRetryable).toBe(false);
  });

  it('keeps the fetcher decision and Retry-After for its own failures', () => {
    const retryable = toFailure(
      new FetchFailure(ErrorKind.httpStatus, 'HTTP 429', true, { url: 'u', httpStatus: 429, retryAfterMs: 1500 }),
      'u',
      0,
      undefined,
      1,
    );
    expect(retryable).toMatchObject({
      nonRetryable: false,
      nextRetryDelay: 1500,
      details: [{ kind: 'http_status', attempt: 1, httpStatus: 429 }],
    });
    const permanent = toFailure(
      new FetchFailure(ErrorKind.httpStatus, 'too many redirects', false, { url: 'u', httpStatus: 302 }),
      'u',
      0,
      undefined,
      1,
    );
    expect(permanent.nonRetryable).toBe(true);
  });

  it('classifies body and storage errors as before: too large permanent, truncated and storage retryable', () => {
    expect(toFailure(new BodyRejectedError(BodyRejection.tooLarge, 'k', 200, 100), 'u', 0, undefined, 1)).toMatchObject({
      type: 'too_large',
      nonRetryable: true,
    });
    expect(toFailure(new BodyRejectedError(BodyRejection.truncated, 'k', 50, 100), 'u', 0, undefined, 1)).toMatchObject({
      type: 'truncated',
      nonRetryable: false,
    });
    expect(toFailure(new StorageError('down', 'k'), 'u', 0, undefined, 1)).toMatchObject({ type: 'storage', nonRetryable: false });
    const cut = toFailure(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'u', 10, 100, 1);
    expect(cut).toMatchObject({ type: 'truncated', nonRetryable: false });
  });

  it('turns a batch failure into failed (permanent) or retry (with Retry-After), kind as sent', () => {
    expect(batchFailure(4, fail(ErrorKind.tooLarge, 'big', 1), false, 1000)).toEqual({
      index: 4,
      failed: { kind: 'too_large', message: 'big' },
    });
    expect(batchFailure(1, fail(ErrorKind.httpStatus, 'HTTP 503', 1, { httpStatus: 503, retryAfterMs: 200 }), false, 1000)).toEqual({
      index: 1,
      retry: { kind: 'http_status', message: 'HTTP 503', httpStatus: 503, retryAfterMs: 200 },
    });
    expect(batchFailure(2, fail('connection', 'reset', 1), false, 1000)).toEqual({
      index: 2,
      retry: { kind: 'connection', message: 'reset' },
    });
    expect(batchFailure(3, new Error('boom'), false, 1000)).toEqual({ index: 3, retry: { kind: 'storage', message: 'boom' } });
    expect(batchFailure(0, undefined, true, 1000)).toEqual({
      index: 0,
      retry: { kind: 'timeout', message: 'download attempt took longer than 1000 ms' },
    });
  });
});

describe('workflow side: downloadFailure from the rules', () => {
  const activityFailure = (retryState: 'MAXIMUM_ATTEMPTS_REACHED' | 'NON_RETRYABLE_FAILURE', cause: ApplicationFailure) =>
    new ActivityFailure('activity failed', 'downloadResource', '1', retryState, undefined, cause);

  it('records a permanent failure with its kind, status and attempt', () => {
    const cause = fail(ErrorKind.httpStatus, 'HTTP 404', 2, { httpStatus: 404 });
    expect(downloadFailure(activityFailure('NON_RETRYABLE_FAILURE', cause), 1)).toEqual({
      attempts: 2,
      error: { kind: 'http_status', message: 'HTTP 404', httpStatus: 404 },
    });
  });

  it('records retries_exhausted for a 503 or connection error that ran out of attempts, keeps storage', () => {
    const http = fail(ErrorKind.httpStatus, 'HTTP 503', 5, { httpStatus: 503 });
    expect(downloadFailure(activityFailure('MAXIMUM_ATTEMPTS_REACHED', http), 1, 5).error).toEqual({
      kind: 'retries_exhausted',
      message: 'HTTP 503',
      httpStatus: 503,
    });
    expect(downloadFailure(activityFailure('MAXIMUM_ATTEMPTS_REACHED', fail('connection', 'reset', 5)), 1, 5).error.kind).toBe(
      'retries_exhausted',
    );
    expect(downloadFailure(activityFailure('MAXIMUM_ATTEMPTS_REACHED', fail(ErrorKind.storage, 'down', 5)), 1, 5).error.kind).toBe(
      'storage',
    );
  });

  it('records anything unclassified as storage with a clipped message', () => {
    const out = downloadFailure(new Error('y'.repeat(3 * MAX_MESSAGE_BYTES)), 2);
    expect(out).toEqual({ attempts: 2, error: { kind: 'storage', message: 'y'.repeat(MAX_MESSAGE_BYTES) } });
  });
});
