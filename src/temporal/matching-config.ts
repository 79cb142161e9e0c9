/**
 * The Temporal server settings FetchBox's priority and fairness need (server 1.29): both are off by
 * default there. `matching.enableFairness` dispatches each priority level's tasks in proportion to
 * their fairness keys' weights and implies `matching.useNewMatcher`, the priority-aware matcher that
 * orders tasks by priority key; both are listed so the intent reads the same in every place.
 * `fetchbox dev` and the test suite pass them as flags (with {@link DEV_SERVER_DYNAMIC_CONFIG}), the
 * cluster suite writes them into its dynamicconfig.yaml, and docs/deployment.md lists them for operators.
 */
export const PRIORITY_DYNAMIC_CONFIG = {
  'matching.useNewMatcher': true,
  'matching.enableFairness': true,
} as const;

/**
 * What `fetchbox dev` (and the test suite) run their dev server with: priority and fairness, and one
 * partition per task queue. Temporal orders tasks by priority and balances fairness keys within a
 * partition; with the default four, a worker's poll lands on a random partition and can take a
 * lower-priority task from it while a higher-priority one waits on another. One machine and one
 * worker gain nothing from partitions, so the dev server keeps one and its ordering is exact. A
 * cluster keeps Temporal's default (docs/deployment.md).
 */
export const DEV_SERVER_DYNAMIC_CONFIG = {
  ...PRIORITY_DYNAMIC_CONFIG,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
} as const;

/** {@link DEV_SERVER_DYNAMIC_CONFIG} as `temporal server start-dev` flags (`--dynamic-config-value KEY=JSON`). */
export function dynamicConfigFlags(): string[] {
  return Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]);
}

/** {@link PRIORITY_DYNAMIC_CONFIG} as a server's dynamic config file (YAML: each key a list of constrained values). */
export function dynamicConfigYaml(): string {
  return Object.entries(PRIORITY_DYNAMIC_CONFIG)
    .map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n    constraints: {}\n`)
    .join('');
}
