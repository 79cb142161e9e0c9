import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { createFetcher } from '../fetch/fetcher.js';
import { assertHandlerStores } from '../handlers/policy.js';
import { builtInHandlers, type HandlerRegistry } from '../handlers/registry.js';
import { checkStores, createStoreRegistry } from '../storage/store-registry.js';
import { createFetchBoxWorker, createHostBroker } from '../worker/create-worker.js';
import { startPartialSweeper } from '../storage/partial-sweeper.js';
import { WorkerMetrics } from '../observability/worker-metrics.js';
import { startMetricsServer } from '../observability/metrics-server.js';
import { installRuntime } from '../observability/runtime.js';
import { describeConnection, temporalConnectionOptions } from '../temporal/connection-options.js';
import { checkNamespaceRetention } from '../temporal/retention.js';
import { ensureSearchAttributes } from '../temporal/search-attributes-setup.js';

/**
 * A running worker; `close()` drains it: polling stops, in-flight activities get
 * `worker.shutdownGraceMs` to finish, the rest are canceled (and retried by other workers); then
 * it disconnects.
 */
export interface RunningWorker {
  worker: Worker;
  /** The worker's /metrics URL, when metrics are on. */
  metricsUrl?: string;
  close(): Promise<void>;
}

let runtimeInstalled = false;

/**
 * Starts a worker on the configured task queue (`fetchbox worker`, and part of `fetchbox dev`).
 * `handlers` replaces the built-in registry (a build with its own handlers, tests).
 */
export async function runWorker(config: Config, logger: Logger, handlers: HandlerRegistry = builtInHandlers()): Promise<RunningWorker> {
  // A handler whose policy names an unconfigured store stops the worker here, not a job later.
  assertHandlerStores(config, handlers);
  const temporal = temporalConnectionOptions(config);
  const metricsOn = config.worker.metricsPort !== -1;
  const temporalMetricsAddress = `127.0.0.1:${config.worker.temporalMetricsPort}`;
  if (!runtimeInstalled) {
    installRuntime({ logger, ...(metricsOn ? { temporalMetricsAddress } : {}) });
    runtimeInstalled = true;
  }
  const metrics = new WorkerMetrics();
  const metricsServer = metricsOn
    ? await startMetricsServer({
        host: config.worker.metricsHost,
        port: config.worker.metricsPort,
        registry: metrics.registry,
        temporalMetricsUrl: `http://${temporalMetricsAddress}/metrics`,
      })
    : undefined;
  // Every configured store is checked before the worker takes a task.
  const stores = createStoreRegistry(config);
  const storeChecks = await checkStores(stores).catch(async (err: unknown) => {
    await stores.close();
    throw err;
  });
  const storage = stores.default;
  // Partials nobody will finish are removed by age, at start and periodically (partial-sweeper.ts).
  const sweeper = startPartialSweeper({
    stores,
    maxAgeMs: config.storage.partialMaxAgeMs,
    intervalMs: config.storage.partialSweepIntervalMs,
    gauge: metrics.partialBytes,
    logger,
  });
  const fetcher = createFetcher(config.fetch);
  const connection = await NativeConnection.connect(temporal);
  const tracing = config.otel.endpoint
    ? (await import('../observability/tracing.js')).createTracing(config.otel.endpoint, `${config.otel.serviceName}-worker`)
    : undefined;
  const clientConnection = Connection.lazy(temporal);
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  await ensureSearchAttributes(client, config.temporal.namespace, logger);
  // Warns (never fails) when the namespace keeps closed jobs for another time than temporal.retention.
  await checkNamespaceRetention(client, config.temporal.namespace, config.temporal.retention, logger);
  // Politeness per host across the fleet: leases from each limited host's coordinator (docs/jobs.md#politeness).
  const hostBroker = createHostBroker({ config, client, logger, metrics });
  const worker = await createFetchBoxWorker({
    config,
    connection,
    client,
    ...(hostBroker ? { hostBroker } : {}),
    storage,
    stores,
    fetcher,
    handlers,
    logger,
    metrics,
    ...(tracing ? { tracing: tracing.plugin } : {}),
  });
  const running = worker.run();
  // Store names and URLs only: credentials never reach a log line.
  const storeUrls = Object.fromEntries(storeChecks.map((c) => [c.name, c.url]));
  logger.info(
    {
      taskQueue: config.temporal.taskQueue,
      temporal: describeConnection(temporal),
      storage: storage.url,
      stores: storeUrls,
      metrics: metricsServer?.url,
    },
    'worker running',
  );
  return {
    worker,
    ...(metricsServer ? { metricsUrl: metricsServer.url } : {}),
    async close() {
      if (worker.getState() === 'RUNNING') {
        logger.info(
          { graceMs: config.worker.shutdownGraceMs },
          'worker draining: polling stopped, in-flight activities finish or are canceled at the end of the grace',
        );
        worker.shutdown();
      }
      await running.catch((err: unknown) => logger.error({ err }, 'worker stopped with an error'));
      // Its downloads are done: the leases go back now instead of lapsing after their lease time.
      await hostBroker?.close();
      await connection.close();
      await clientConnection.close();
      await fetcher.close();
      await sweeper.stop();
      await stores.close();
      await metricsServer?.close();
      await tracing?.shutdown();
    },
  };
}
