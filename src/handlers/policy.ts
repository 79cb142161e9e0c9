import type { Config } from '../config/config-schema.js';
import { ConfigError } from '../config/load-config.js';
import { unknownPolicyStores } from '../config/store-settings.js';
import type { JobPolicy } from '../model/job-types.js';
import type { Handler, HandlerPolicy } from './handler.js';
import type { HandlerRegistry } from './registry.js';

function overlay(base: JobPolicy, over: HandlerPolicy | undefined): JobPolicy {
  if (!over) return base;
  // allowedStores is checked at submit (api/submit/check-manifest.ts), not carried by the job.
  const { retry, skipExisting, allowedStores: _, ...rest } = over;
  const merged: JobPolicy = { ...base, ...rest, retry: { ...base.retry, ...retry } };
  if (skipExisting === false) delete merged.skipExisting;
  else if (skipExisting !== undefined) merged.skipExisting = skipExisting;
  return merged;
}

/**
 * The policy a job runs under, fixed when it is submitted: the global settings (`job.*`,
 * `fetch.*`), then the handler's own `policy`, then `handlers.<name>.policy` from configuration.
 */
export function resolvePolicy(config: Config, handler: Handler): JobPolicy {
  const { job, fetch } = config;
  const base: JobPolicy = {
    concurrency: job.concurrency,
    pageParallelism: job.pageParallelism,
    ...(job.perHostConcurrency > 0 ? { perHostConcurrency: job.perHostConcurrency } : {}),
    batchSize: job.batchSize,
    retry: { ...job.retry },
    attemptTimeoutMs: job.attemptTimeoutMs,
    heartbeatTimeoutMs: job.heartbeatTimeoutMs,
    maxBytes: fetch.maxBytes,
    proxyTiers: [...fetch.proxyTiers],
    attemptsPerTier: fetch.attemptsPerTier,
    ...(job.skipExisting ? { skipExisting: job.skipExistingMaxAgeMs > 0 ? { maxAgeMs: job.skipExistingMaxAgeMs } : {} } : {}),
  };
  return overlay(overlay(base, handler.policy), config.handlers[handler.name]?.policy as HandlerPolicy | undefined);
}

/** A handler's settings: the config file's `handlers.<name>.settings`, then `FETCHBOX_HANDLER_<NAME>_<KEY>` variables. */
export function handlerSettings(config: Config, name: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const settings: Record<string, string> = { ...config.handlers[name]?.settings };
  const prefix = `FETCHBOX_HANDLER_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_`;
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(prefix) && value !== undefined) settings[key.slice(prefix.length).toLowerCase()] = value;
  }
  return settings;
}

/**
 * Stores a manifest may name for a handler's jobs: `handlers.<name>.policy.allowedStores` from
 * configuration when set, else the handler's own `policy.allowedStores`; none by default.
 */
export function allowedStores(config: Config, handler: Handler): string[] {
  return config.handlers[handler.name]?.policy.allowedStores ?? handler.policy?.allowedStores ?? [];
}

/**
 * Refuses to start a process whose handlers' own policies (their code) name a store the
 * configuration does not declare: a job must never find out mid-run. Configuration's
 * `handlers.<name>.policy` is checked by loadConfig.
 */
export function assertHandlerStores(config: Config, handlers: HandlerRegistry): void {
  const policies = Object.fromEntries(handlers.names().map((name) => [name, { policy: handlers.get(name).policy ?? {} }]));
  const issues = unknownPolicyStores(
    policies,
    Object.keys(config.storage.stores),
    (handler, field) => `handler ${JSON.stringify(handler)} policy.${field} (in its code)`,
  );
  if (issues.length > 0)
    throw new ConfigError(`invalid configuration: ${issues.map((i) => `${i.setting}: ${i.message}`).join('; ')}`, issues);
}
