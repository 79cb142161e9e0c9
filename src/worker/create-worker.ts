import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { setFlagsFromString } from 'node:v8';
import type { Client } from '@temporalio/client';
import { fileURLToPath } from 'node:url';
import { type NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/create-activities.js';
import { HostBroker, temporalHostCoordinator } from '../activities/host-broker.js';
import { anyHostLimit, hostLimitFor } from '../config/host-limits.js';
import type { Config } from '../config/config-schema.js';
import type { Fetcher } from '../fetch/fetcher.js';
import { handlerSettings } from '../handlers/policy.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import type { Storage } from '../storage/storage.js';
import type { StoreRegistry } from '../storage/store-registry.js';
import type { Logger } from 'pino';
import type { WorkerMetrics } from '../observability/worker-metrics.js';
import type { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';

/**
 * How long after the drain grace a worker gives canceled activities to report back before it
 * stops anyway (the SDK's shutdownForceTime counts from the shutdown request).
 */
export const SHUTDOWN_FORCE_AFTER_GRACE_MS = 10_000;

/** The workflows entry point next to this file: `.js` when built, `.ts` under vitest. */
export function workflowsPath(): string {
  for (const ext of ['js', 'ts']) {
    const file = fileURLToPath(new URL(`../workflows/index.${ext}`, import.meta.url));
    if (existsSync(file)) return file;
  }
  throw new Error('cannot find src/workflows/index.ts or dist/workflows/index.js');
}

/**
 * The prebuilt workflow bundle named by FETCHBOX_WORKFLOW_BUNDLE (`npm run bundle:workflows`
 * writes dist/workflow-bundle.js; the container image sets the variable), so a worker starts
 * without webpack. Undefined when unset: the worker bundles its workflows at start. Opt-in, so a
 * stale bundle can never shadow freshly built code in development.
 */
export function prebuiltBundlePath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.FETCHBOX_WORKFLOW_BUNDLE;
  if (!file) return undefined;
  if (!existsSync(file)) throw new Error(`FETCHBOX_WORKFLOW_BUNDLE: ${file} does not exist; run npm run bundle:workflows`);
  return file;
}

/** What a worker is made of; the caller owns and closes the connection, storage and fetcher. */
export interface WorkerDeps {
  config: Config;
  connection: NativeConnection;
  /** A client for activities that read the ledger (retry rounds). */
  client: Client;
  storage: Storage;
  /** Every configured store (store-registry.ts), `storage` as `default`; only `storage` when omitted. */
  stores?: StoreRegistry;
  fetcher: Fetcher;
  handlers: HandlerRegistry;
  /** A prebuilt bundle (tests build one per run); otherwise bundled from workflowsPath(). */
  workflowBundle?: WorkerOptions['workflowBundle'];
  taskQueue?: string;
  /** Where FETCHBOX_HANDLER_<NAME>_<KEY> settings are read from; process.env by default. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  metrics?: WorkerMetrics;
  /** OpenTelemetry plugin (createTracing); the workflows are then bundled at start with its interceptors. */
  tracing?: OpenTelemetryPlugin;
  /**
   * The worker's host broker (createHostBroker); the caller closes it. When omitted, one is made
   * here if any host has a limit (its leases then lapse at exit instead of being returned).
   */
  hostBroker?: HostBroker;
}

/**
 * The worker process's host broker (politeness per host across every job and worker), or undefined
 * when no host has a limit: then downloads skip politeness entirely and no coordinator is started.
 */
export function createHostBroker(deps: Pick<WorkerDeps, 'config' | 'client' | 'taskQueue' | 'logger' | 'metrics'>): HostBroker | undefined {
  const { config } = deps;
  if (!anyHostLimit(config)) return undefined;
  return new HostBroker({
    limitFor: (host) => hostLimitFor(config, host),
    coordinator: temporalHostCoordinator(deps.client, deps.taskQueue ?? config.temporal.taskQueue),
    workerId: `${os.hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`,
    leaseMs: config.politeness.leaseMs,
    ...(deps.logger ? { logger: deps.logger } : {}),
    ...(deps.metrics
      ? {
          onWait: (seconds: number) => deps.metrics!.hostPermitWait.observe(seconds),
          onLease: (outcome: 'ok' | 'error') => deps.metrics!.hostLeaseRequests.inc({ outcome }),
        }
      : {}),
  });
}

/** Creates a FetchBox worker: the job workflow plus the download activities. */
export async function createFetchBoxWorker(deps: WorkerDeps): Promise<Worker> {
  const { config } = deps;
  // Process-wide and read by V8 at every heap sizing, so it holds for the workflow thread too.
  if (config.worker.heapGrowthPercent > 0) setFlagsFromString(`--heap-growing-percent=${config.worker.heapGrowthPercent}`);
  const hostBroker = deps.hostBroker ?? createHostBroker(deps);
  return Worker.create({
    connection: deps.connection,
    namespace: config.temporal.namespace,
    taskQueue: deps.taskQueue ?? config.temporal.taskQueue,
    ...(deps.workflowBundle
      ? { workflowBundle: deps.workflowBundle }
      : prebuiltBundlePath() && !deps.tracing
        ? { workflowBundle: { codePath: prebuiltBundlePath()! } }
        : { workflowsPath: workflowsPath() }),
    ...(deps.tracing ? { plugins: [deps.tracing] } : {}),
    activities: createActivities({
      storage: deps.storage,
      ...(deps.stores ? { stores: deps.stores } : {}),
      fetcher: deps.fetcher,
      handlers: deps.handlers,
      client: deps.client,
      settingsFor: (name) => handlerSettings(config, name, deps.env ?? process.env),
      textLimits: {
        ...(config.fetch.textMaxBytes !== undefined ? { maxBytes: config.fetch.textMaxBytes } : {}),
        ...(config.fetch.textDeadlineMs !== undefined ? { deadlineMs: config.fetch.textDeadlineMs } : {}),
      },
      ...(deps.logger ? { logger: deps.logger } : {}),
      ...(deps.metrics ? { metrics: deps.metrics } : {}),
      ...(hostBroker ? { hostPermits: hostBroker } : {}),
      webhooks: { ...(config.webhooks.secret ? { secret: config.webhooks.secret } : {}), fetch: config.fetch },
    }),
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    maxConcurrentActivityTaskPolls: config.worker.activityPollers,
    maxConcurrentWorkflowTaskPolls: config.worker.workflowPollers,
    maxHeartbeatThrottleInterval: config.worker.heartbeatThrottleMs,
    // Drain on shutdown: in-flight activities get the grace, then see cancellation (a batch
    // heartbeats what it settled, so its retry on another worker resumes there). The force time
    // ends a shutdown whose activities ignore cancellation, so a stopping process always exits.
    shutdownGraceTime: config.worker.shutdownGraceMs,
    shutdownForceTime: config.worker.shutdownGraceMs + SHUTDOWN_FORCE_AFTER_GRACE_MS,
  });
}
