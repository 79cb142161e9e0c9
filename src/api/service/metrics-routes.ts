import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ApiMetrics } from '../../observability/api-metrics.js';
import type { AppEnv } from '../app-env.js';
import { Scope } from '../auth.js';
import { scoped, unscoped } from '../route-security.js';

/** `GET /metrics`, open to everyone or for `read` tokens only (FETCHBOX_API_METRICS_PUBLIC). */
const metricsRoute = (open: boolean) =>
  createRoute({
    method: 'get',
    path: '/metrics',
    ...(open ? unscoped() : scoped(Scope.read)),
    summary: 'Prometheus metrics of this API process',
    description: 'Text exposition format. Open by default; FETCHBOX_API_METRICS_PUBLIC=false requires a token with the read scope.',
    responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: z.string() } } } },
  });

/** `GET /metrics` in Prometheus text format; `options.public` serves it without a token. */
export function metricsRoutes(metrics: ApiMetrics, options: { public: boolean }) {
  return new OpenAPIHono<AppEnv>().openapi(metricsRoute(options.public), async (c) => {
    const body = await metrics.registry.metrics();
    return c.text(body, 200, { 'content-type': metrics.registry.contentType });
  });
}
