import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApiCallError, apiClient, ClientExit, processIo, type Io } from './api-client.js';
import { isRetryWhere, jobsRetryWhere } from './jobs-retry.js';
import { tailJob, type TailSummary } from './jobs-tail.js';
import { hasJobsSubcommandUsage, JOBS_SUBCOMMAND_USAGE, JOBS_USAGE as USAGE } from './jobs-usage.js';

/** Exit codes of `fetchbox jobs`, for scripts: those of every API client command (api-client.ts), plus tail's. */
export const JobsExit = {
  ...ClientExit,
  /** `tail`: the job ended, but not `completed`. */
  notCompleted: 5,
} as const;

// Re-exported: tests and callers import the I/O type from here.
export type { Io } from './api-client.js';

/** A job summary as the API answers it (`GET /jobs/{jobId}`, the items of `GET /jobs`, the events' summaries). */
type Summary = TailSummary;

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MiB` : `${bytes} B`;
}

function summaryLine(j: Summary): string {
  const r = j.resources;
  return `${j.jobId}  ${j.status}  ${r.succeeded}/${r.total} ok, ${r.failed} failed, ${r.pending} pending, ${mib(j.bytes)}`;
}

/** `fetchbox jobs ...`: a thin client of the HTTP API. Returns the exit code. */
export async function jobsCommand(argv: string[], env: NodeJS.ProcessEnv = process.env, io: Io = processIo): Promise<number> {
  // `retry --where ...` retries every job a filter matches (POST /retries): jobs-retry.ts.
  if (isRetryWhere(argv)) return jobsRetryWhere(argv, env, io);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        api: { type: 'string' },
        token: { type: 'string' },
        status: { type: 'string' },
        handler: { type: 'string' },
        limit: { type: 'string' },
        all: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    io.err(`fetchbox jobs: ${(err as Error).message}\n\n${USAGE}`);
    return JobsExit.usage;
  }
  const { values, positionals } = parsed;
  const [command, arg] = positionals;
  if (values.help && hasJobsSubcommandUsage(command)) {
    io.out(JOBS_SUBCOMMAND_USAGE[command]);
    return JobsExit.ok;
  }
  if (values.help || !command) {
    io.out(USAGE);
    return values.help ? JobsExit.ok : JobsExit.usage;
  }
  const { base, headers, call } = apiClient(values, env);
  const print = (human: string, data: unknown) => io.out(values.json ? `${JSON.stringify(data)}\n` : `${human}\n`);

  const need = (what: string): string => {
    if (!arg)
      throw new ApiCallError(
        JobsExit.usage,
        `jobs ${command} needs ${what}\n\n${hasJobsSubcommandUsage(command) ? JOBS_SUBCOMMAND_USAGE[command] : USAGE}`,
      );
    return arg;
  };
  const enc = encodeURIComponent;

  try {
    switch (command) {
      case 'submit': {
        const source = need('a manifest file, or - for stdin');
        const text =
          source === '-'
            ? await io.stdin()
            : await readFile(source, 'utf8').catch((err: Error) => {
                throw new ApiCallError(JobsExit.usage, `cannot read ${source}: ${err.message}`);
              });
        const { status, json } = await call('POST', '/jobs', text);
        print(
          `${status === 202 ? 'submitted' : 'exists (identical manifest)'}: ${json.jobId}\n  ${base}${json.links.self}\n  ${json.links.temporalUi}`,
          json,
        );
        return JobsExit.ok;
      }
      case 'get': {
        const { json } = await call('GET', `/jobs/${enc(need('a jobId'))}`);
        print(
          `${summaryLine(json)}\n  started ${json.startedAt}${json.closedAt ? `, closed ${json.closedAt}` : ''}\n  ${json.links.temporalUi}`,
          json,
        );
        return JobsExit.ok;
      }
      case 'list': {
        const q = new URLSearchParams();
        if (values.status) q.set('status', values.status);
        if (values.handler) q.set('handler', values.handler);
        if (values.limit) q.set('limit', values.limit);
        const { json } = await call('GET', `/jobs?${q}`);
        print((json.items as Summary[]).map(summaryLine).join('\n') || '(no jobs)', json);
        return JobsExit.ok;
      }
      case 'resources': {
        const jobId = need('a jobId');
        const q = new URLSearchParams();
        if (values.status) q.set('status', values.status);
        if (values.limit) q.set('limit', values.limit);
        let cursor: string | null = null;
        do {
          if (cursor) q.set('cursor', cursor);
          const { json }: { json: any } = await call('GET', `/jobs/${enc(jobId)}/resources?${q}`);
          for (const r of json.items) {
            print(
              `${r.id}  ${r.status}  ${r.url}  ->  ${r.key}${r.error ? `  [${r.error.kind}${r.error.httpStatus ? ` ${r.error.httpStatus}` : ''}] ${r.error.message}` : ''}`,
              r,
            );
          }
          cursor = values.all ? json.nextCursor : null;
          if (!values.all && json.nextCursor && !values.json) io.out(`(more: --all, or --limit)\n`);
        } while (cursor);
        return JobsExit.ok;
      }
      case 'retry': {
        const { json } = await call('POST', `/jobs/${enc(need('a jobId'))}/retry`);
        print(json.retrying ? `retrying the failed resources of ${json.jobId}` : `${json.jobId}: nothing failed, nothing to retry`, json);
        return JobsExit.ok;
      }
      case 'cancel': {
        const { json } = await call('POST', `/jobs/${enc(need('a jobId'))}/cancel`);
        print(`cancel requested: ${json.jobId}`, json);
        return JobsExit.ok;
      }
      case 'tail': {
        const tty = io === processIo && process.stdout.isTTY === true;
        const common = { base, headers, out: io.out, err: io.err, json: values.json, all: values.all, summaryLine, exits: JobsExit };
        return await tailJob(need('a jobId'), { ...common, tty, columns: process.stdout.columns });
      }
      default:
        io.err(`fetchbox jobs: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return JobsExit.usage;
    }
  } catch (err) {
    if (err instanceof ApiCallError) {
      io.err(`fetchbox jobs ${command}: ${err.message}\n`);
      return err.exit;
    }
    throw err;
  }
}
