import { parseArgs } from 'node:util';
import type { RetriesRequest } from '../client/fetchbox-client.js';
import { apiClient, ClientExit, exitOf, processIo, timeOption, type Io } from './api-client.js';

const USAGE = `Usage: fetchbox jobs retry --where <filter> [--dry-run] [--json]

Retries every job the filter matches (POST /retries): jobs with failed resources, retried as
\`fetchbox jobs retry <jobId>\` would, at most 1000 per request.

  --where K=V[,K=V...]  status=S           a job status (e.g. completed_with_failures)
                        handler=H          jobs of handler H
                        since=1h|ISO       closed (running: started) at or after: a duration ago
                                           (30m, 1h, 2d) or an ISO 8601 time
                        kind=K             completed jobs with a failure of kind K (e.g. timeout)
  --dry-run             print what matches; retry nothing
  --json                the API's answer as JSON

Options: --api URL (default $FETCHBOX_API_URL or http://127.0.0.1:3000), --token T (default
$FETCHBOX_API_TOKEN; needs the operator scope). Exit codes: 0 ok, 1 API unreachable or 5xx,
2 usage, 4 API refused (4xx, e.g. a filter matching more than 1000 jobs).
`;

/** The keys `--where` takes. */
const WHERE_KEYS = ['status', 'handler', 'since', 'kind'] as const;
type WhereKey = (typeof WHERE_KEYS)[number];

/** Thrown for a `--where` the command cannot send; the message names the part. */
export class WhereSyntaxError extends Error {
  override readonly name = 'WhereSyntaxError';
}

/** `status=completed_with_failures,handler=x,since=1h,kind=timeout` → the POST /retries filter (since as ISO 8601). */
export function parseWhere(text: string, now: number = Date.now()): Partial<Record<WhereKey, string>> {
  const filter: Partial<Record<WhereKey, string>> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf('=');
    const key = part.slice(0, eq).trim() as WhereKey;
    const value = part.slice(eq + 1).trim();
    if (eq <= 0 || !WHERE_KEYS.includes(key))
      throw new WhereSyntaxError(`--where: ${JSON.stringify(part)} is not one of ${WHERE_KEYS.map((k) => `${k}=...`).join(', ')}`);
    if (value === '') throw new WhereSyntaxError(`--where: ${key} has no value`);
    if (key in filter) throw new WhereSyntaxError(`--where: ${key} given twice`);
    if (key === 'since') {
      const iso = timeOption(value, now);
      if (iso === undefined) throw new WhereSyntaxError(`--where: since=${value} is neither a duration (30m, 1h, 2d) nor an ISO 8601 time`);
      filter.since = iso;
    } else filter[key] = value;
  }
  if (Object.keys(filter).length === 0) throw new WhereSyntaxError('--where needs at least one of status, handler, since, kind');
  return filter;
}

/** True for a `fetchbox jobs` command line that is `retry --where ...` (the bulk retry). */
export function isRetryWhere(argv: readonly string[]): boolean {
  return argv.includes('retry') && argv.some((a) => a === '--where' || a.startsWith('--where='));
}

/** `fetchbox jobs retry --where ...`: POST /retries with the filter. Returns the exit code. */
export async function jobsRetryWhere(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = processIo): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        where: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        api: { type: 'string' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    io.err(`fetchbox jobs retry: ${(err as Error).message}\n\n${USAGE}`);
    return ClientExit.usage;
  }
  if (values.help) {
    io.out(USAGE);
    return ClientExit.ok;
  }
  let filter;
  try {
    if (positionals.filter((p) => p !== 'retry').length > 0) throw new WhereSyntaxError('give jobIds or --where, not both');
    filter = parseWhere(values.where ?? '');
  } catch (err) {
    if (!(err instanceof WhereSyntaxError)) throw err;
    io.err(`fetchbox jobs retry: ${err.message}\n\n${USAGE}`);
    return ClientExit.usage;
  }
  try {
    // The filter goes to the API as given (a bad status or kind is its 400).
    const request = { ...filter, ...(values['dry-run'] ? { dryRun: true } : {}) } as RetriesRequest;
    const json = await apiClient(values, env).retries(request);
    if (values.json) {
      io.out(`${JSON.stringify(json)}\n`);
      return ClientExit.ok;
    }
    for (const job of json.jobs) {
      io.out(`${job.jobId}  ${job.outcome}${job.message ? `  ${job.message}` : ''}\n`);
    }
    const skipped = Object.entries(json.skipped).map(([k, n]) => `${n} ${k}`);
    io.out(
      json.dryRun
        ? `matched ${json.matched} job${json.matched === 1 ? '' : 's'} (dry run: nothing retried)\n`
        : `matched ${json.matched}, retrying ${json.retried}${skipped.length ? `, skipped ${skipped.join(', ')}` : ''} (batch ${json.batchId})\n`,
    );
    return ClientExit.ok;
  } catch (err) {
    const failed = exitOf(err);
    if (!failed) throw err;
    io.err(`fetchbox jobs retry: ${failed.message}\n`);
    return failed.exit;
  }
}
