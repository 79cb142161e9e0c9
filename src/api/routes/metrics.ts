import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ApiMetrics } from '../../metrics/api-metrics.js';
import type { AppEnv } from '../app-env.js';

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics of this API process',
  description: 'Text exposition format. Open by default; FETCHBOX_API_METRICS_PUBLIC=false requires a token with the read scope.',
  responses: { 200: { description: 'Metrics', content: { 'text/plain': { schema: z.string() } } } },
});

/** `GET /metrics` in Prometheus text format. */
export function metricsRoutes(metrics: ApiMetrics) {
  return new OpenAPIHono<AppEnv>().openapi(metricsRoute, async (c) => {
    const body = await metrics.registry.metrics();
    return c.text(body, 200, { 'content-type': metrics.registry.contentType });
  });
}
