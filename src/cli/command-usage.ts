/**
 * `fetchbox <command> --help` for the long-running commands (dev, api, worker): what each runs and
 * the settings an operator reaches for first. `jobs` and `failures` print their own usage.
 */
export const COMMAND_USAGE = {
  dev: `Usage: fetchbox dev [--handlers <module>[,<module>...]]

Everything on one machine: a Temporal dev server with its Web UI (SQLite in $FETCHBOX_DATA_DIR),
a worker, the API and file storage. Ctrl-C stops all of it.

--handlers <module>[,<module>...] (or FETCHBOX_HANDLERS): handler modules loaded beside the
built-in handlers, each a path relative to the working directory or a package name resolved
from it; the worker runs them, the API accepts their names (docs/handlers.md).

Settings used most (docs/configuration.md lists every one):
  FETCHBOX_DATA_DIR            where the dev server's SQLite file and the objects live (./data)
  FETCHBOX_API_PORT            API port (3000)
  FETCHBOX_STORAGE_URL         file://... or s3://bucket/prefix (file://$FETCHBOX_DATA_DIR/objects)
  FETCHBOX_TEMPORAL_RETENTION  how long closed jobs stay readable and retryable (72h)
  FETCHBOX_JOB_CONCURRENCY     downloads in flight per job (16)
`,
  api: `Usage: fetchbox api [--handlers <module>[,<module>...]]

The HTTP API only (stateless; run several behind a load balancer). It reaches Temporal at
TEMPORAL_ADDRESS (or a temporal.toml profile) and the storage at FETCHBOX_STORAGE_URL.

--handlers <module>[,<module>...] (or FETCHBOX_HANDLERS): handler modules loaded beside the
built-in handlers, each a path relative to the working directory or a package name resolved
from it. Give the API the modules the workers run: it checks manifests' handler names
(docs/handlers.md).

Settings used most (docs/configuration.md lists every one):
  FETCHBOX_API_HOST, FETCHBOX_API_PORT   bind address (127.0.0.1:3000)
  FETCHBOX_API_TOKENS                    bearer tokens with scopes; unset: no auth, loopback only
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE   the Temporal frontend and namespace
`,
  worker: `Usage: fetchbox worker [--handlers <module>[,<module>...]]

A worker only: runs job and page workflows and the download activities from TEMPORAL_TASK_QUEUE
(fetchbox). Registers FetchBox's search attributes at start. Drains on SIGTERM.

--handlers <module>[,<module>...] (or FETCHBOX_HANDLERS): handler modules loaded beside the
built-in handlers, each a path relative to the working directory or a package name resolved
from it. A module that cannot be loaded stops the worker with exit code 3 (docs/handlers.md).

Settings used most (docs/configuration.md lists every one):
  FETCHBOX_STORAGE_URL                where bodies are stored
  FETCHBOX_WORKER_SHUTDOWN_GRACE_MS   how long in-flight downloads get on SIGTERM (30000)
  FETCHBOX_FETCH_ALLOW_CIDRS          private ranges the fetcher may reach (none)
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE
`,
} as const;

/** True for commands with a usage of their own in {@link COMMAND_USAGE}. */
export function hasCommandUsage(command: string | undefined): command is keyof typeof COMMAND_USAGE {
  return command !== undefined && Object.hasOwn(COMMAND_USAGE, command);
}
