import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { JobStatus, JobSummary, ResourceStatus } from '../client/fetchbox-client.js';
import { ApiCallError, apiClient, ClientExit, exitOf, processIo, type Io } from './api-client.js';
import { isRetryWhere, jobsRetryWhere } from './jobs-retry.js';
import { tailJob } from './jobs-tail.js';
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
type Summary = JobSummary;

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
  const client = apiClient(values, env);
  const print = (human: string, data: unknown) => io.out(values.json ? `${JSON.stringify(data)}\n` : `${human}\n`);

  const need = (what: string): string => {
    if (!arg)
      throw new ApiCallError(
        JobsExit.usage,
        `jobs ${command} needs ${what}\n\n${hasJobsSubcommandUsage(command) ? JOBS_SUBCOMMAND_USAGE[command] : USAGE}`,
      );
    return arg;
  };
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
        const { created, job } = await client.submit(text);
        print(
          `${created ? 'submitted' : 'exists (identical manifest)'}: ${job.jobId}\n  ${client.baseUrl}${job.links.self}\n  ${job.links.temporalUi}`,
          job,
        );
        return JobsExit.ok;
      }
      case 'get': {
        const job = await client.get(need('a jobId'));
        print(
          `${summaryLine(job)}\n  started ${job.startedAt}${job.closedAt ? `, closed ${job.closedAt}` : ''}\n  ${job.links.temporalUi}`,
          job,
        );
        return JobsExit.ok;
      }
      case 'list': {
        // The filters go to the API as given: its 400 names a bad one.
        const page = await client.list({
          ...(values.status ? { status: values.status as JobStatus } : {}),
          ...(values.handler ? { handler: values.handler } : {}),
          ...(values.limit ? { limit: Number(values.limit) } : {}),
        });
        print(page.items.map(summaryLine).join('\n') || '(no jobs)', page);
        return JobsExit.ok;
      }
      case 'resources': {
        const jobId = need('a jobId');
        const query = {
          ...(values.status ? { status: values.status as ResourceStatus } : {}),
          ...(values.limit ? { limit: Number(values.limit) } : {}),
        };
        for await (const page of client.resourcePages(jobId, query)) {
          for (const r of page.items) {
            print(
              `${r.id}  ${r.status}  ${r.url}  ->  ${r.key}${r.error ? `  [${r.error.kind}${r.error.httpStatus ? ` ${r.error.httpStatus}` : ''}] ${r.error.message}` : ''}`,
              r,
            );
          }
          if (!values.all) {
            if (page.nextCursor && !values.json) io.out(`(more: --all, or --limit)\n`);
            break;
          }
        }
        return JobsExit.ok;
      }
      case 'retry': {
        const answer = await client.retry(need('a jobId'));
        print(
          answer.retrying ? `retrying the failed resources of ${answer.jobId}` : `${answer.jobId}: nothing failed, nothing to retry`,
          answer,
        );
        return JobsExit.ok;
      }
      case 'cancel': {
        const answer = await client.cancel(need('a jobId'));
        print(`cancel requested: ${answer.jobId}`, answer);
        return JobsExit.ok;
      }
      case 'tail': {
        const tty = io === processIo && process.stdout.isTTY === true;
        const common = { client, out: io.out, err: io.err, json: values.json, all: values.all, summaryLine, exits: JobsExit };
        return await tailJob(need('a jobId'), { ...common, tty, columns: process.stdout.columns });
      }
      default:
        io.err(`fetchbox jobs: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
        return JobsExit.usage;
    }
  } catch (err) {
    const failed = exitOf(err);
    if (!failed) throw err;
    io.err(`fetchbox jobs ${command}: ${failed.message}\n`);
    return failed.exit;
  }
}
