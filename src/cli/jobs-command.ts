import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { JobStatus, JobSummary, ResourceStatus } from '../client/fetchbox-client.js';
import { ApiCallError, apiClient, ClientExit, exitOf, processIo, type Io } from './api-client.js';
import { isRetryWhere, jobsRetryWhere } from './jobs-retry.js';
import { tailJob } from './jobs-tail.js';

/** Options every `fetchbox jobs` subcommand takes: where the API is and how to authenticate. */
const CLIENT_OPTIONS = `Options: --json (machine-readable output), --api URL (default $FETCHBOX_API_URL or
http://127.0.0.1:3000), --token T (default $FETCHBOX_API_TOKEN).`;

/** Exit codes every `fetchbox jobs` subcommand shares (tail adds 5). */
const EXIT_CODES = 'Exit codes: 0 ok, 1 API unreachable or 5xx, 2 usage, 4 API refused (4xx)';

/** `fetchbox jobs --help`: every subcommand on one screen. */
const JOBS_USAGE = `Usage: fetchbox jobs <command> [options]

  submit <manifest.json|->          submit a manifest (file or stdin)
  get <jobId>                       job summary
  list [--status S] [--handler H] [--limit N]
  resources <jobId> [--status S] [--limit N] [--all]
  retry <jobId>                     download the job's failed resources again
  retry --where K=V[,K=V...]        retry every job a filter matches (status, handler, since,
        [--dry-run]                 kind): POST /retries, at most 1000 jobs
  cancel <jobId>                    cancel a running job
  tail <jobId> [--all]              follow the job until it closes: a progress bar on a terminal,
                                    failures as they happen (--all: every resource)

${CLIENT_OPTIONS}
${EXIT_CODES}, 5 tail: job not completed.
Each command prints its own usage: fetchbox jobs <command> --help.
`;

/** One subcommand's usage: its synopsis, what it does, then the shared options and exit codes. */
function usage(synopsis: string, what: string, exits = `${EXIT_CODES}.`): string {
  return `Usage: fetchbox jobs ${synopsis}\n\n${what}\n\n${CLIENT_OPTIONS}\n${exits}\n`;
}

/**
 * `fetchbox jobs <command> --help`: the usage of that one subcommand (the contract: "`fetchbox
 * <command> --help` prints that command's usage"). `retry --where` has its own page in jobs-retry.ts.
 */
const JOBS_SUBCOMMAND_USAGE = {
  submit: usage(
    'submit <manifest.json|-> [options]',
    'Submits a manifest (POST /jobs) from a file, or from stdin with -. Prints the jobId and its links;\n' +
      'the same jobId with an identical manifest answers the existing job ("exists"), a different one is refused.',
  ),
  get: usage('get <jobId> [options]', "Prints the job's summary (GET /jobs/{jobId}): status, counts, bytes, start and close time."),
  list: usage(
    'list [--status S] [--handler H] [--limit N] [options]',
    'Lists jobs, newest first (GET /jobs).\n\n' +
      '  --status S    running, completed, completed_with_failures, failed, canceled, terminated or timed_out\n' +
      '  --handler H   jobs of handler H\n' +
      '  --limit N     at most N jobs (1-1000)',
  ),
  resources: usage(
    'resources <jobId> [--status S] [--limit N] [--all] [options]',
    "Prints the job's resources, one per line (GET /jobs/{jobId}/resources).\n\n" +
      '  --status S    pending, succeeded or failed\n' +
      '  --limit N     resources per page (1-1000)\n' +
      '  --all         follow the cursor to the last page',
  ),
  retry: usage(
    'retry <jobId> [options]\n       fetchbox jobs retry --where K=V[,K=V...] [--dry-run] [options]',
    "Downloads the job's failed resources again (POST /jobs/{jobId}/retry).\n\n" +
      'With --where, retries every job a filter matches instead (POST /retries, at most 1000 jobs):\n' +
      '  --where K=V[,K=V...]  status=S, handler=H, since=1h|ISO (closed at or after), kind=K\n' +
      '  --dry-run             print what matches; retry nothing',
  ),
  cancel: usage('cancel <jobId> [options]', 'Cancels a running job (POST /jobs/{jobId}/cancel); finished downloads stay stored.'),
  tail: usage(
    'tail <jobId> [--all] [options]',
    'Follows the job (GET /jobs/{jobId}/events) until it closes: a progress bar on a terminal, plain lines\n' +
      'otherwise, and each failure as it happens.\n\n' +
      '  --all         every settled resource, not only failures',
    `${EXIT_CODES}, 5 the job ended but not completed.`,
  ),
} as const;

/** True for a subcommand with a usage of its own in {@link JOBS_SUBCOMMAND_USAGE}. */
function hasJobsSubcommandUsage(command: string | undefined): command is keyof typeof JOBS_SUBCOMMAND_USAGE {
  return command !== undefined && Object.hasOwn(JOBS_SUBCOMMAND_USAGE, command);
}

/** Exit codes of `fetchbox jobs`, for scripts: those of every API client command (api-client.ts), plus tail's. */
export const JobsExit = {
  ...ClientExit,
  /** `tail`: the job ended, but not `completed`. */
  notCompleted: 5,
} as const;

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
    io.err(`fetchbox jobs: ${(err as Error).message}\n\n${JOBS_USAGE}`);
    return JobsExit.usage;
  }
  const { values, positionals } = parsed;
  const [command, arg] = positionals;
  if (values.help && hasJobsSubcommandUsage(command)) {
    io.out(JOBS_SUBCOMMAND_USAGE[command]);
    return JobsExit.ok;
  }
  if (values.help || !command) {
    io.out(JOBS_USAGE);
    return values.help ? JobsExit.ok : JobsExit.usage;
  }
  const client = apiClient(values, env);
  const print = (human: string, data: unknown) => io.out(values.json ? `${JSON.stringify(data)}\n` : `${human}\n`);

  const need = (what: string): string => {
    if (!arg)
      throw new ApiCallError(
        JobsExit.usage,
        `jobs ${command} needs ${what}\n\n${hasJobsSubcommandUsage(command) ? JOBS_SUBCOMMAND_USAGE[command] : JOBS_USAGE}`,
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
        io.err(`fetchbox jobs: unknown command ${JSON.stringify(command)}\n\n${JOBS_USAGE}`);
        return JobsExit.usage;
    }
  } catch (err) {
    const failed = exitOf(err);
    if (!failed) throw err;
    io.err(`fetchbox jobs ${command}: ${failed.message}\n`);
    return failed.exit;
  }
}
