import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseCidrs } from '../fetch/address-guard.js';
import { temporalProfileFromFile, TemporalSettingsError } from '../temporal/connection-options.js';
import { configSchema, type Config } from './config-schema.js';
import { storeEnvNameFor, storeEnvSettings, unknownPolicyStores } from './store-settings.js';

/**
 * Environment variable → config path. One table so the docs test can check every variable is
 * documented, and so the loader and the docs never disagree about names.
 */
export const ENV_VARS = {
  FETCHBOX_DATA_DIR: 'dataDir',
  FETCHBOX_LOG_LEVEL: 'log.level',
  FETCHBOX_LOG_FORMAT: 'log.format',
  FETCHBOX_API_HOST: 'api.host',
  FETCHBOX_API_PORT: 'api.port',
  FETCHBOX_API_TOKENS: 'api.tokens',
  FETCHBOX_API_BODY_LIMIT_BYTES: 'api.bodyLimitBytes',
  FETCHBOX_API_TEMPORAL_TIMEOUT_MS: 'api.temporalTimeoutMs',
  FETCHBOX_API_METRICS_PUBLIC: 'api.metricsPublic',
  FETCHBOX_API_SUBMIT_RATE: 'api.submitRate',
  FETCHBOX_API_SUBMIT_BURST: 'api.submitBurst',
  FETCHBOX_API_EVENTS_INTERVAL_MS: 'api.eventsIntervalMs',
  FETCHBOX_API_LIST_RATE: 'api.listRate',
  FETCHBOX_API_LIST_BURST: 'api.listBurst',
  FETCHBOX_API_MAX_STREAMS_PER_CLIENT: 'api.maxStreamsPerClient',
  FETCHBOX_API_HEADERS_TIMEOUT_MS: 'api.headersTimeoutMs',
  FETCHBOX_API_REQUEST_TIMEOUT_MS: 'api.requestTimeoutMs',
  FETCHBOX_API_KEEP_ALIVE_TIMEOUT_MS: 'api.keepAliveTimeoutMs',
  FETCHBOX_API_MAX_CONNECTIONS: 'api.maxConnections',
  FETCHBOX_API_READINESS_CACHE_MS: 'api.readinessCacheMs',
  FETCHBOX_CURSOR_SECRET: 'api.cursorSecret',
  FETCHBOX_FAIRNESS_WEIGHTS: 'api.fairnessWeights',
  TEMPORAL_ADDRESS: 'temporal.address',
  TEMPORAL_NAMESPACE: 'temporal.namespace',
  TEMPORAL_TASK_QUEUE: 'temporal.taskQueue',
  FETCHBOX_TEMPORAL_UI_URL: 'temporal.uiUrl',
  FETCHBOX_TEMPORAL_RETENTION: 'temporal.retention',
  FETCHBOX_STORAGE_URL: 'storage.url',
  FETCHBOX_S3_ENDPOINT: 'storage.s3.endpoint',
  FETCHBOX_S3_REGION: 'storage.s3.region',
  FETCHBOX_S3_FORCE_PATH_STYLE: 'storage.s3.forcePathStyle',
  FETCHBOX_S3_PART_SIZE_BYTES: 'storage.s3.partSizeBytes',
  FETCHBOX_S3_QUEUE_SIZE: 'storage.s3.queueSize',
  FETCHBOX_STORAGE_PARTIAL_MAX_AGE_MS: 'storage.partialMaxAgeMs',
  FETCHBOX_STORAGE_PARTIAL_SWEEP_INTERVAL_MS: 'storage.partialSweepIntervalMs',
  FETCHBOX_FETCH_ALLOW_CIDRS: 'fetch.allowCidrs',
  FETCHBOX_FETCH_MAX_REDIRECTS: 'fetch.maxRedirects',
  FETCHBOX_FETCH_MAX_BYTES: 'fetch.maxBytes',
  FETCHBOX_FETCH_CONNECT_TIMEOUT_MS: 'fetch.connectTimeoutMs',
  FETCHBOX_FETCH_HEADERS_TIMEOUT_MS: 'fetch.headersTimeoutMs',
  FETCHBOX_FETCH_BODY_IDLE_TIMEOUT_MS: 'fetch.bodyIdleTimeoutMs',
  FETCHBOX_FETCH_USER_AGENT: 'fetch.userAgent',
  FETCHBOX_FETCH_TEXT_MAX_BYTES: 'fetch.textMaxBytes',
  FETCHBOX_FETCH_TEXT_DEADLINE_MS: 'fetch.textDeadlineMs',
  FETCHBOX_PROXY_TIERS: 'fetch.proxyTiers',
  FETCHBOX_PROXY_ATTEMPTS_PER_TIER: 'fetch.attemptsPerTier',
  FETCHBOX_JOB_CONCURRENCY: 'job.concurrency',
  FETCHBOX_JOB_PAGE_SIZE: 'job.pageSize',
  FETCHBOX_JOB_PAGE_PARALLELISM: 'job.pageParallelism',
  FETCHBOX_JOB_PER_HOST_CONCURRENCY: 'job.perHostConcurrency',
  FETCHBOX_JOB_BATCH_SIZE: 'job.batchSize',
  FETCHBOX_HOST_CONCURRENCY: 'politeness.hostConcurrency',
  FETCHBOX_HOST_LEASE_MS: 'politeness.leaseMs',
  FETCHBOX_JOB_INLINE_MAX_RESOURCES: 'job.inlineMaxResources',
  FETCHBOX_RETRY_MAX_ATTEMPTS: 'job.retry.maximumAttempts',
  FETCHBOX_RETRY_INITIAL_INTERVAL_MS: 'job.retry.initialIntervalMs',
  FETCHBOX_RETRY_BACKOFF_COEFFICIENT: 'job.retry.backoffCoefficient',
  FETCHBOX_RETRY_MAX_INTERVAL_MS: 'job.retry.maximumIntervalMs',
  FETCHBOX_JOB_ATTEMPT_TIMEOUT_MS: 'job.attemptTimeoutMs',
  FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: 'job.heartbeatTimeoutMs',
  FETCHBOX_JOB_SKIP_EXISTING: 'job.skipExisting',
  FETCHBOX_JOB_SKIP_EXISTING_MAX_AGE_MS: 'job.skipExistingMaxAgeMs',
  FETCHBOX_LIMITS_MAX_RESOURCES_PER_JOB: 'limits.maxResourcesPerJob',
  FETCHBOX_LIMITS_MAX_METADATA_BYTES: 'limits.maxMetadataBytes',
  FETCHBOX_WORKER_MAX_CONCURRENT_ACTIVITIES: 'worker.maxConcurrentActivities',
  FETCHBOX_WORKER_ACTIVITY_POLLERS: 'worker.activityPollers',
  FETCHBOX_WORKER_WORKFLOW_POLLERS: 'worker.workflowPollers',
  FETCHBOX_WORKER_HEARTBEAT_THROTTLE_MS: 'worker.heartbeatThrottleMs',
  FETCHBOX_WORKER_HEAP_GROWTH_PERCENT: 'worker.heapGrowthPercent',
  FETCHBOX_OTEL_ENDPOINT: 'otel.endpoint',
  FETCHBOX_OTEL_SERVICE_NAME: 'otel.serviceName',
  FETCHBOX_WORKER_METRICS_HOST: 'worker.metricsHost',
  FETCHBOX_WORKER_METRICS_PORT: 'worker.metricsPort',
  FETCHBOX_WORKER_TEMPORAL_METRICS_PORT: 'worker.temporalMetricsPort',
  FETCHBOX_WORKER_SHUTDOWN_GRACE_MS: 'worker.shutdownGraceMs',
  FETCHBOX_HANDLERS: 'handlerModules',
  FETCHBOX_WEBHOOK_SECRET: 'webhooks.secret',
  FETCHBOX_WEBHOOK_DEFAULT_URL: 'webhooks.defaultUrl',
  FETCHBOX_WEBHOOK_TIMEOUT_MS: 'webhooks.timeoutMs',
  FETCHBOX_WEBHOOK_RETRY_WINDOW: 'webhooks.retryWindow',
} as const;

/** Thrown when configuration does not validate; the message names every bad setting. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly { setting: string; message: string }[],
  ) {
    super(message);
  }
}

type Tree = Record<string, unknown>;

function setPath(tree: Tree, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[part] = {};
    node = node[part] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function envNameFor(configPath: string): string | undefined {
  return Object.entries(ENV_VARS).find(([, p]) => p === configPath)?.[0] ?? storeEnvNameFor(configPath);
}

function readConfigFile(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`FETCHBOX_CONFIG: cannot read ${file}: ${(err as Error).message}`, [
      { setting: 'FETCHBOX_CONFIG', message: (err as Error).message },
    ]);
  }
  let parsed: unknown;
  try {
    parsed = /\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const message = (err as Error).message.split('\n')[0]!;
    throw new ConfigError(`FETCHBOX_CONFIG: ${file} is not valid ${/\.json$/i.test(file) ? 'JSON' : 'YAML'}: ${message}`, [
      { setting: 'FETCHBOX_CONFIG', message },
    ]);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`FETCHBOX_CONFIG: ${file} must hold an object`, [{ setting: 'FETCHBOX_CONFIG', message: 'not an object' }]);
  }
  return parsed as Tree;
}

/**
 * The temporal.toml profile's address and namespace, under FETCHBOX_CONFIG's `temporal.*` and the
 * TEMPORAL_* variables (applied after this): one precedence for every command.
 */
function applyTemporalProfile(tree: Tree, env: NodeJS.ProcessEnv): void {
  let profile;
  try {
    profile = temporalProfileFromFile(env);
  } catch (err) {
    if (!(err instanceof TemporalSettingsError)) throw err;
    throw new ConfigError(`invalid configuration: ${err.message}`, [{ setting: err.setting, message: err.message }]);
  }
  const temporal = tree.temporal as Tree | undefined;
  if (profile.address && temporal?.address === undefined) setPath(tree, 'temporal.address', profile.address);
  if (profile.namespace && temporal?.namespace === undefined) setPath(tree, 'temporal.namespace', profile.namespace);
}

/**
 * Builds the configuration from an optional file (`FETCHBOX_CONFIG`, YAML or JSON) with
 * environment variables merged over it, validated with zod. Call once at process start; an
 * invalid value throws a ConfigError naming the setting (and its env variable).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const tree: Tree = env.FETCHBOX_CONFIG ? readConfigFile(env.FETCHBOX_CONFIG) : {};
  applyTemporalProfile(tree, env);
  for (const [name, configPath] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(tree, configPath, value);
  }
  // FETCHBOX_PROXY_<NAME>_URL defines proxy <name> (lower-cased), so credentials stay in the env.
  for (const [name, value] of Object.entries(env)) {
    const m = /^FETCHBOX_PROXY_([A-Z0-9_]+)_URL$/.exec(name);
    if (m && value) setPath(tree, `fetch.proxies.${m[1]!.toLowerCase()}`, value);
  }
  // FETCHBOX_STORE_<NAME>_URL and _S3_* define store <name> (lower-cased), credentials included.
  for (const [configPath, value] of storeEnvSettings(env)) setPath(tree, configPath, value);
  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => {
      const dotted = issue.path.join('.');
      const envName = envNameFor(dotted);
      return { setting: envName ? `${dotted} (${envName})` : dotted, message: issue.message };
    });
    throw new ConfigError(`invalid configuration: ${issues.map((i) => `${i.setting}: ${i.message}`).join('; ')}`, issues);
  }
  const config = result.data;
  try {
    parseCidrs(config.fetch.allowCidrs);
  } catch (err) {
    const setting = 'fetch.allowCidrs (FETCHBOX_FETCH_ALLOW_CIDRS)';
    throw new ConfigError(`invalid configuration: ${setting}: ${(err as Error).message}`, [{ setting, message: (err as Error).message }]);
  }
  const unknownTiers = config.fetch.proxyTiers.filter((t) => t !== 'direct' && !(t in config.fetch.proxies));
  if (unknownTiers.length > 0) {
    const setting = 'fetch.proxyTiers (FETCHBOX_PROXY_TIERS)';
    const message = `tier ${unknownTiers.map((t) => JSON.stringify(t)).join(', ')} is neither "direct" nor a configured proxy (FETCHBOX_PROXY_<NAME>_URL)`;
    throw new ConfigError(`invalid configuration: ${setting}: ${message}`, [{ setting, message }]);
  }
  const storeIssues = unknownPolicyStores(config.handlers, Object.keys(config.storage.stores));
  if (storeIssues.length > 0) {
    throw new ConfigError(`invalid configuration: ${storeIssues.map((i) => `${i.setting}: ${i.message}`).join('; ')}`, storeIssues);
  }
  if (config.storage.url === '') {
    config.storage.url = `file://${path.join(config.dataDir, 'objects')}`;
  }
  return config;
}
