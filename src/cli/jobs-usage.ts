/** Options every `fetchbox jobs` subcommand takes: where the API is and how to authenticate. */
const CLIENT_OPTIONS = `Options: --json (machine-readable output), --api URL (default $FETCHBOX_API_URL or
http://127.0.0.1:3000), --token T (default $FETCHBOX_API_TOKEN).`;

/** Exit codes every `fetchbox jobs` subcommand shares (tail adds 5). */
const EXIT_CODES = 'Exit codes: 0 ok, 1 API unreachable or 5xx, 2 usage, 4 API refused (4xx)';

/** `fetchbox jobs --help`: every subcommand on one screen. */
export const JOBS_USAGE = `Usage: fetchbox jobs <command> [options]

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
export const JOBS_SUBCOMMAND_USAGE = {
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
export function hasJobsSubcommandUsage(command: string | undefined): command is keyof typeof JOBS_SUBCOMMAND_USAGE {
  return command !== undefined && Object.hasOwn(JOBS_SUBCOMMAND_USAGE, command);
}
