import { parseArgs } from 'node:util';
import type { Failure, FailuresQuery } from '../client/fetchbox-client.js';
import { apiClient, ClientExit, exitOf, processIo, timeOption, type Io } from './api-client.js';

const USAGE = `Usage: fetchbox failures [options]

Failed resources across jobs (GET /failures, the dead-letter view), newest jobs first, then a
summary: how many failed, by error kind and by host.

  --since 1h|ISO      jobs closed at or after: a duration ago (30m, 1h, 2d) or an ISO 8601 time
  --until 1h|ISO      jobs closed at or before
  --handler H         jobs of handler H
  --kind K            http_status, retries_exhausted, blocked_address, too_large, timeout,
                      truncated, storage, handler, invalid_url
  --host H            the URL's host (case-insensitive; with :port, that port only)
  --limit N           most failures to fetch, following cursors (default 1000, at most 100000)
  --json              one JSON document: {items, summary}

Options: --api URL (default $FETCHBOX_API_URL or http://127.0.0.1:3000), --token T (default
$FETCHBOX_API_TOKEN). Exit codes: 0 ok, 1 API unreachable or 5xx, 2 usage, 4 API refused (4xx).
`;

/** Most failures one command fetches, and most requests it makes (a sparse filter answers empty pages). */
const MAX_LIMIT = 100_000;
const MAX_REQUESTS = 1_000;

/** What the summary counts of a failure (the kind as a string: the summary counts any kind the API names). */
type Counted = Pick<Failure, 'jobId' | 'url'> & { error: { kind: string } };

/** How many failures, in how many jobs, by kind and by host (counts, largest first). */
export interface FailureSummary {
  failures: number;
  jobs: number;
  byKind: Record<string, number>;
  byHost: Record<string, number>;
  /** True when the limit or the request cap stopped the listing before its end. */
  truncated: boolean;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return '(invalid url)';
  }
}

/** Counts sorted by count (then name): an object whose key order is the display order. */
function ranked(counts: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

/** The summary `fetchbox failures` prints after the list. */
export function summarizeFailures(items: readonly Counted[], truncated: boolean): FailureSummary {
  const byKind = new Map<string, number>();
  const byHost = new Map<string, number>();
  for (const f of items) {
    byKind.set(f.error.kind, (byKind.get(f.error.kind) ?? 0) + 1);
    byHost.set(hostOf(f.url), (byHost.get(hostOf(f.url)) ?? 0) + 1);
  }
  return {
    failures: items.length,
    jobs: new Set(items.map((f) => f.jobId)).size,
    byKind: ranked(byKind),
    byHost: ranked(byHost),
    truncated,
  };
}

const counts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || '-';

function line(f: Failure): string {
  const kind = `${f.error.kind}${f.error.httpStatus !== undefined ? ` ${f.error.httpStatus}` : ''}`;
  return `${f.when}  ${f.jobId}  ${f.id}  [${kind}] ${f.url}  ${f.error.message} (${f.attempts} attempt${f.attempts === 1 ? '' : 's'})`;
}

/** `fetchbox failures`: the dead-letter view with a per-kind and per-host summary. Returns the exit code. */
export async function failuresCommand(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = processIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        handler: { type: 'string' },
        kind: { type: 'string' },
        host: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean', default: false },
        api: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`fetchbox failures: ${(err as Error).message}\n\n${USAGE}`);
    return ClientExit.usage;
  }
  if (values.help) {
    io.out(USAGE);
    return ClientExit.ok;
  }
  const usage = (message: string) => (io.err(`fetchbox failures: ${message}\n\n${USAGE}`), ClientExit.usage);
  // The filters go to the API as given (a bad kind is its 400); only the times are turned into ISO 8601 here.
  const query: Record<string, string> = {};
  for (const name of ['since', 'until'] as const) {
    const given = values[name];
    if (given === undefined) continue;
    const iso = timeOption(given);
    if (iso === undefined) return usage(`--${name} ${JSON.stringify(given)} is neither a duration (30m, 1h, 2d) nor an ISO 8601 time`);
    query[name] = iso;
  }
  for (const name of ['handler', 'kind', 'host'] as const) if (values[name] !== undefined) query[name] = values[name];
  const limit = values.limit === undefined ? 1000 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) return usage(`--limit must be an integer from 1 to ${MAX_LIMIT}`);

  const api = apiClient(values, env);
  const items: Failure[] = [];
  let cursor: string | null = null;
  let requests = 0;
  try {
    do {
      const page = await api.failures({
        ...(query as FailuresQuery),
        limit: Math.min(1000, limit - items.length),
        ...(cursor ? { cursor } : {}),
      });
      items.push(...page.items);
      cursor = page.nextCursor;
      requests++;
    } while (cursor && items.length < limit && requests < MAX_REQUESTS);
  } catch (err) {
    const failed = exitOf(err);
    if (!failed) throw err;
    io.err(`fetchbox failures: ${failed.message}\n`);
    return failed.exit;
  }
  const summary = summarizeFailures(items, cursor !== null);
  if (values.json) {
    io.out(`${JSON.stringify({ items, summary })}\n`);
    return ClientExit.ok;
  }
  for (const f of items) io.out(`${line(f)}\n`);
  io.out(
    `${summary.failures} failure${summary.failures === 1 ? '' : 's'} in ${summary.jobs} job${summary.jobs === 1 ? '' : 's'}${summary.truncated ? ' (more: raise --limit or narrow the filter)' : ''}\n` +
      `by kind: ${counts(summary.byKind)}\nby host: ${counts(summary.byHost)}\n`,
  );
  return ClientExit.ok;
}
