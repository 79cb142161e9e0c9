import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
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

const CheckSchema = z.object({ status: z.enum(['ok', 'error']), checks: z.record(z.string(), z.string()) }).openapi('Readiness');

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

async function run(check: ReadinessCheck): Promise<string> {
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
    return `error: ${(err as Error).message}`;
  } finally {
    clearTimeout(timer);
  }
}

/** `/healthz` (liveness: always 200) and `/readyz` (each dependency checked, 503 if any fails). */
export function healthRoutes(checks: readonly ReadinessCheck[]) {
  return new OpenAPIHono<AppEnv>()
    .openapi(healthRoute, (c) => c.json({ status: 'ok' as const }, 200))
    .openapi(readyRoute, async (c) => {
      const results = await Promise.all(checks.map(async (ch) => [ch.name, await run(ch)] as const));
      const ok = results.every(([, r]) => r === 'ok');
      const body = { status: ok ? ('ok' as const) : ('error' as const), checks: Object.fromEntries(results) };
      return ok ? c.json(body, 200) : c.json(body, 503);
    });
}
