import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { formatDurationMs } from '../config/duration.js';

/**
 * Shortest retention a worker accepts without a warning: a retry reads the failed job's page
 * histories, so with less than a day a failure from the night is gone before anyone can retry it.
 */
export const MIN_RETRYABLE_RETENTION_MS = 86_400_000;

/** How long a worker's start waits for DescribeNamespace before it gives up on the check. */
export const RETENTION_CHECK_TIMEOUT_MS = 5_000;

/** Setting the dev namespace's retention failed; the message carries the CLI's output. */
export class RetentionSetupError extends Error {
  override readonly name = 'RetentionSetupError';
  constructor(
    readonly namespace: string,
    readonly retentionMs: number,
    options: ErrorOptions,
  ) {
    super(
      `cannot set the retention of namespace ${namespace} to ${formatDurationMs(retentionMs)}: ${(options.cause as Error).message}`,
      options,
    );
  }
}

/** The namespace's retention in ms as its frontend reports it; undefined when it reports none. */
export async function readNamespaceRetentionMs(client: Client, namespace: string): Promise<number | undefined> {
  const res = await client.workflowService.describeNamespace({ namespace });
  const ttl = res.config?.workflowExecutionRetentionTtl;
  if (!ttl) return undefined;
  // seconds is a protobuf Long (or a number): its string form is exact for both.
  return Number(String(ttl.seconds ?? 0)) * 1_000 + Math.round((ttl.nanos ?? 0) / 1_000_000);
}

/**
 * Sets a namespace's retention with `temporal operator namespace update --retention` (what an
 * operator would run), for `fetchbox dev`'s own plain local server.
 */
export async function setNamespaceRetention(opts: {
  binary: string;
  address: string;
  namespace: string;
  retentionMs: number;
}): Promise<void> {
  // Flags only: a TEMPORAL_TLS_* variable or temporal.toml meant for production must not steer the
  // CLI away from the local dev server.
  const args = ['operator', 'namespace', 'update', '--address', opts.address, '--namespace', opts.namespace];
  args.push('--retention', `${Math.round(opts.retentionMs / 1_000)}s`, '--disable-config-env', '--disable-config-file');
  try {
    await promisify(execFile)(opts.binary, args, { timeout: 30_000 });
  } catch (err) {
    throw new RetentionSetupError(opts.namespace, opts.retentionMs, { cause: err });
  }
}

/** Why a namespace's retention is not what FetchBox was told, or undefined when it is. */
export function retentionProblem(actualMs: number | undefined, wantedMs: number): string | undefined {
  if (actualMs === undefined || actualMs === 0) {
    return `the namespace reports no retention; temporal.retention (FETCHBOX_TEMPORAL_RETENTION) is ${formatDurationMs(wantedMs)}`;
  }
  const problems: string[] = [];
  if (actualMs !== wantedMs) {
    problems.push(
      `the namespace keeps closed jobs for ${formatDurationMs(actualMs)}, temporal.retention (FETCHBOX_TEMPORAL_RETENTION) says ${formatDurationMs(wantedMs)}: ` +
        `failed jobs stay retryable for ${formatDurationMs(actualMs)} after they close`,
    );
  }
  if (actualMs < MIN_RETRYABLE_RETENTION_MS) {
    problems.push(`a retention under ${formatDurationMs(MIN_RETRYABLE_RETENTION_MS)} loses failed jobs before an operator can retry them`);
  }
  return problems.length > 0 ? problems.join('; ') : undefined;
}

/**
 * A worker's start check: reads the namespace's retention and logs a warning when it differs
 * from `temporal.retention` or is too short to retry failed jobs. Never throws: a frontend that
 * refuses DescribeNamespace (permissions) or does not answer in time is logged, and the worker
 * starts anyway.
 */
export async function checkNamespaceRetention(client: Client, namespace: string, wantedMs: number, logger: Logger): Promise<void> {
  let actualMs: number | undefined;
  try {
    actualMs = await client.connection.withDeadline(Date.now() + RETENTION_CHECK_TIMEOUT_MS, () =>
      readNamespaceRetentionMs(client, namespace),
    );
  } catch (err) {
    logger.warn({ err, namespace }, 'cannot read the namespace retention (DescribeNamespace); not checked against temporal.retention');
    return;
  }
  const problem = retentionProblem(actualMs, wantedMs);
  const fields = { namespace, retention: actualMs === undefined ? null : formatDurationMs(actualMs), expected: formatDurationMs(wantedMs) };
  if (problem) logger.warn(fields, `namespace retention mismatch: ${problem}`);
  else logger.info(fields, 'namespace retention as configured');
}
