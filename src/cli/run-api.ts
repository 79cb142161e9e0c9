import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { listenApi } from '../api/api-server.js';
import { createApp } from '../api/app.js';
import { isLoopbackHost, parseTokens } from '../api/auth.js';
import { JobService } from '../api/job-service.js';
import type { Config } from '../config/config-schema.js';
import { storeChecks } from '../api/service/health-routes.js';
import { assertHandlerStores } from '../handlers/policy.js';
import { builtInHandlers, type HandlerRegistry } from '../handlers/registry.js';
import { createStoreRegistry } from '../storage/store-registry.js';
import { createApiConnection } from '../temporal/api-connection.js';
import { describeConnection, temporalConnectionOptions } from '../temporal/connection-options.js';

/** A running API; `close()` stops accepting, then closes Temporal and storage connections. */
export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the HTTP API (`fetchbox api`, and part of `fetchbox dev`). Refuses to bind to a
 * non-loopback address when no API tokens are configured. `handlers` replaces the built-in registry.
 */
export async function runApi(config: Config, logger: Logger, handlers: HandlerRegistry = builtInHandlers()): Promise<RunningApi> {
  if (config.api.tokens.length === 0 && !isLoopbackHost(config.api.host)) {
    throw new Error(
      `refusing to listen on ${config.api.host} without authentication: set FETCHBOX_API_TOKENS or FETCHBOX_API_HOST=127.0.0.1`,
    );
  }
  // A handler whose policy names an unconfigured store stops the API here, not a job later.
  assertHandlerStores(config, handlers);
  if (!config.api.cursorSecret) {
    // `fetchbox dev` sets one before it gets here; a production API should be given one.
    config.api.cursorSecret = randomBytes(32).toString('base64url');
    logger.warn(
      'cursors are signed with a per-process key (FETCHBOX_CURSOR_SECRET is unset): they stop working when this API restarts and on other replicas',
    );
  }
  const temporal = temporalConnectionOptions(config);
  // Staging uses the default store; /readyz checks every configured one.
  const stores = createStoreRegistry(config);
  const storage = stores.default;
  const connection = createApiConnection(temporal);
  const tracing = config.otel.endpoint
    ? (await import('../observability/tracing.js')).createTracing(config.otel.endpoint, `${config.otel.serviceName}-api`)
    : undefined;
  const client = new Client({ connection, namespace: config.temporal.namespace, ...(tracing ? { plugins: [tracing.plugin] } : {}) });
  const jobs = new JobService({ client, storage, handlers, config });
  let port = config.api.port;
  const app = createApp({
    jobs,
    logger,
    bodyLimitBytes: config.api.bodyLimitBytes,
    tokens: parseTokens(config.api.tokens),
    metricsPublic: config.api.metricsPublic,
    submitRate: config.api.submitRate,
    ...(config.api.submitBurst > 0 ? { submitBurst: config.api.submitBurst } : {}),
    eventsIntervalMs: config.api.eventsIntervalMs,
    listRate: config.api.listRate,
    listBurst: config.api.listBurst,
    maxStreamsPerClient: config.api.maxStreamsPerClient,
    readinessCacheMs: config.api.readinessCacheMs,
    // The port is known once the server listens (FETCHBOX_API_PORT=0 picks one); no request comes before.
    bound: { host: config.api.host, port: () => port },
    checks: [{ name: 'temporal', check: () => temporalReady(client) }, ...storeChecks(stores)],
  });
  const server = await listenApi(app.fetch, { hostname: config.api.host, port: config.api.port }, config.api);
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : config.api.port;
  const host = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host;
  const url = `http://${host}:${port}`;
  logger.info({ url, storage: storage.url, temporal: describeConnection(temporal) }, 'api listening');
  return {
    url,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
      await stores.close();
      await tracing?.shutdown();
    },
  };
}

/** Readiness of Temporal: one GetSystemInfo call, bounded below the probe's own 3 s budget. */
export async function temporalReady(client: Client): Promise<void> {
  await client.connection.withDeadline(Date.now() + 2_500, () => client.workflowService.getSystemInfo({}));
}
