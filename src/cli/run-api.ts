import { serve, type ServerType } from '@hono/node-server';
import { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { createApp } from '../api/app.js';
import { isLoopbackHost, parseTokens } from '../api/auth.js';
import { JobService } from '../api/job-service.js';
import type { Config } from '../config/config-schema.js';
import { storeChecks } from '../api/routes/health.js';
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
  const app = createApp({
    jobs,
    logger,
    bodyLimitBytes: config.api.bodyLimitBytes,
    tokens: parseTokens(config.api.tokens),
    metricsPublic: config.api.metricsPublic,
    submitRate: config.api.submitRate,
    ...(config.api.submitBurst > 0 ? { submitBurst: config.api.submitBurst } : {}),
    eventsIntervalMs: config.api.eventsIntervalMs,
    checks: [{ name: 'temporal', check: () => temporalReady(client) }, ...storeChecks(stores)],
  });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.api.host, port: config.api.port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.api.port;
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
