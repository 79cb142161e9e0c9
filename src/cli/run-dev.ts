import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { devWebhookSecret } from '../config/webhook-settings.js';
import { formatDurationMs } from '../config/duration.js';
import { setNamespaceRetention } from '../temporal/retention.js';
import { findTemporalCli, startDevServer, TemporalCliNotFoundError, type DevServer } from '../temporal/temporal-cli.js';
import { runApi, type RunningApi } from './run-api.js';
import { runWorker, type RunningWorker } from './run-worker.js';

/** Loopback ranges `fetchbox dev` allows by default, so a local origin can be downloaded from. */
export const DEV_ALLOW_CIDRS = ['127.0.0.0/8', '::1/128'] as const;

/** Everything `fetchbox dev` started; `close()` stops it in reverse order. */
export interface RunningDev {
  apiUrl: string;
  uiUrl: string;
  workerMetricsUrl?: string;
  close(): Promise<void>;
}

function portOf(address: string, fallback: number): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(address);
  return m ? { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) } : { host: address, port: fallback };
}

/**
 * `fetchbox dev`: a Temporal dev server (SQLite under the data dir, Web UI), a worker and the
 * API with file storage, in one process tree. Loopback downloads are allowed unless
 * FETCHBOX_FETCH_ALLOW_CIDRS says otherwise; cursors are signed with a key generated at start
 * unless FETCHBOX_CURSOR_SECRET is set; webhooks with the one kept in `<dataDir>/webhook-secret`
 * unless FETCHBOX_WEBHOOK_SECRET is set. The namespace gets `temporal.retention` (the dev
 * server's own default is one day), set before the worker starts and checks it. `handlers`
 * (built-in ones when omitted) is the registry of both the worker and the API.
 */
export async function runDev(
  config: Config,
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
  handlers?: HandlerRegistry,
): Promise<RunningDev> {
  const binary = findTemporalCli(env);
  if (!binary) throw new TemporalCliNotFoundError();
  if (!env.FETCHBOX_FETCH_ALLOW_CIDRS && config.fetch.allowCidrs.length === 0) {
    config.fetch.allowCidrs = [...DEV_ALLOW_CIDRS];
    logger.info({ allowCidrs: config.fetch.allowCidrs }, 'dev: downloads from loopback are allowed');
  }
  if (!config.api.cursorSecret) {
    // One process serves every cursor of a dev stack: a key of its own, with no warning.
    config.api.cursorSecret = randomBytes(32).toString('base64url');
  }
  const dataDir = path.resolve(config.dataDir);
  await mkdir(dataDir, { recursive: true });
  if (!config.webhooks.secret) {
    // Completion webhooks work out of the box: a secret kept under the data dir, for receivers to verify with.
    const { secret, file } = await devWebhookSecret(dataDir);
    config.webhooks.secret = secret;
    logger.info({ file }, `dev: completion webhooks are signed with the secret in ${file}`);
  }
  const { host, port } = portOf(config.temporal.address, 7233);
  const uiPort = Number(new URL(config.temporal.uiUrl).port || 8233);
  const stack: { close(): Promise<void> }[] = [];
  const close = async () => {
    for (const part of stack.reverse()) {
      await part.close().catch((err: unknown) => logger.error({ err }, 'error while stopping'));
    }
  };
  try {
    const server: DevServer = await startDevServer({
      binary,
      dbFile: path.join(dataDir, 'temporal.sqlite'),
      ip: host,
      port,
      uiPort,
      namespace: config.temporal.namespace,
      logLevel: 'error',
    });
    stack.push({ close: () => server.stop() });
    await setNamespaceRetention({
      binary,
      address: server.address,
      namespace: config.temporal.namespace,
      retentionMs: config.temporal.retention,
    });
    logger.info(
      { namespace: config.temporal.namespace, retention: formatDurationMs(config.temporal.retention) },
      'dev: namespace retention set',
    );
    const worker: RunningWorker = await runWorker(config, logger, handlers);
    stack.push(worker);
    const api: RunningApi = await runApi(config, logger, handlers);
    stack.push(api);
    return { apiUrl: api.url, uiUrl: server.uiUrl, ...(worker.metricsUrl ? { workerMetricsUrl: worker.metricsUrl } : {}), close };
  } catch (err) {
    await close();
    throw err;
  }
}
