import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.js';
import { docsPage } from '../docs-page.js';
import { unscoped } from '../route-security.js';

const openApiRoute = createRoute({
  method: 'get',
  path: '/openapi.json',
  ...unscoped(),
  summary: 'The OpenAPI 3.1 document of this API',
  responses: {
    200: { description: 'The document', content: { 'application/json': { schema: z.record(z.string(), z.unknown()) } } },
  },
});

const docsRoute = createRoute({
  method: 'get',
  path: '/docs',
  ...unscoped(),
  summary: 'The OpenAPI document as an HTML page',
  responses: { 200: { description: 'The page', content: { 'text/html': { schema: z.string() } } } },
});

/**
 * `GET /openapi.json` and `GET /docs`: the API's own description, open to everyone. Declared with
 * createRoute like every other route, so the document lists them too (the contract's table does).
 */
export function docsRoutes(document: () => Record<string, unknown>) {
  return new OpenAPIHono<AppEnv>()
    .openapi(openApiRoute, (c) => c.json(document(), 200))
    .openapi(docsRoute, (c) => c.html(docsPage(document() as Parameters<typeof docsPage>[0]), 200));
}
