import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import type { AppEnv } from '../app-env.js';
import { unscoped } from '../route-security.js';
import { DEFAULT_STORE } from '../../config/store-settings.js';
import type { StoreRegistry } from '../../storage/store-registry.js';

/** A dependency `/readyz` checks; throws when it is not usable. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

/**
 * One readiness check per configured store: `storage` for the default store (the name `/readyz`
 * always had), `storage.<name>` for each named one, so an operator sees which store is down.
 */
export function storeChecks(stores: Pick<StoreRegistry, 'names' | 'resolve'>): ReadinessCheck[] {
  return stores
    .names()
    .map((name) => ({ name: name === DEFAULT_STORE ? 'storage' : `storage.${name}`, check: () => stores.resolve(name).check() }));
}

const CheckSchema = z
  .object({
    status: z.enum(['ok', 'error']),
    checks: z.record(z.string(), z.enum(['ok', 'error'])).openapi({
      description:
        'Each dependency (`temporal`, `storage`, `storage.<name>`): `ok` or `error`; why a check failed is in the API log (`readiness check failed`).',
    }),
  })
  .openapi('Readiness');

const healthRoute = createRoute({
  method: 'get',
  path: '/healthz',
  ...unscoped(),
  summary: 'The process is alive',
  responses: { 200: { description: 'Alive', content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } } } },
});

const readyRoute = createRoute({
  method: 'get',
  path: '/readyz',
  ...unscoped(),
  summary: 'Temporal and every configured store are reachable',
  responses: {
    200: { description: 'Ready', content: { 'application/json': { schema: CheckSchema } } },
    503: { description: 'A dependency is unreachable', content: { 'application/json': { schema: CheckSchema } } },
  },
});

/** Per-check time budget, so a hung dependency cannot hang the probe. */
const CHECK_TIMEOUT_MS = 3_000;

/** What `/readyz` says of one check: never the error's text (paths, addresses), which goes to the log. */
type CheckStatus = 'ok' | 'error';

/** How `/readyz` runs its checks: results reused for `cacheMs`, failures logged with their details. */
export interface ReadinessOptions {
  cacheMs: number;
  logger: Pick<Logger, 'warn'>;
}

/**
 * One check, run at most once per `cacheMs` (from the end of the last run) whatever the number of
 * callers: callers during a run wait for that run, callers after it get its result until it is
 * `cacheMs` old. A storage check writes an object, so an open `/readyz` must not be a write per call.
 */
function cachedCheck(check: ReadinessCheck, { cacheMs, logger }: ReadinessOptions): () => Promise<CheckStatus> {
  let last: { at: number; status: CheckStatus } | undefined;
  let running: Promise<CheckStatus> | undefined;
  const run = async (): Promise<CheckStatus> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check.check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
        }),
      ]);
      return 'ok';
    } catch (err) {
      logger.warn({ err, check: check.name }, 'readiness check failed');
      return 'error';
    } finally {
      clearTimeout(timer);
    }
  };
  return () => {
    if (last && performance.now() - last.at < cacheMs) return Promise.resolve(last.status);
    running ??= run().then((status) => {
      last = { at: performance.now(), status };
      running = undefined;
      return status;
    });
    return running;
  };
}

/**
 * `/healthz` (liveness: always 200) and `/readyz` (each dependency checked, 503 if any fails; each
 * check's status only, at most one run per check every `cacheMs`).
 */
export function healthRoutes(checks: readonly ReadinessCheck[], options: ReadinessOptions) {
  const probes = checks.map((check) => [check.name, cachedCheck(check, options)] as const);
  return new OpenAPIHono<AppEnv>()
    .openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200))
    .openapi(readyRoute, async (c) => {
      const results = await Promise.all(probes.map(async ([name, probe]) => [name, await probe()] as const));
      const ok = results.every(([, r]) => r === 'ok');
      const body = { status: ok ? ('ok' as const) : ('error' as const), checks: Object.fromEntries(results) };
      return ok ? c.json(body, 200) : c.json(body, 503);
    });
}
