import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.js';
import { unscoped } from '../route-security.js';

/** Escapes text for HTML element content and attribute values. */
function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

type Doc = { info?: { title?: string; version?: string; description?: string }; paths?: Record<string, Record<string, any>> };

/**
 * The API reference page at `GET /docs`: every operation of the OpenAPI document with its
 * auth (open, or the token scope it needs), parameters and responses, rendered on the server with no scripts or remote assets, so it
 * works on an offline operator machine. The machine-readable form is `/openapi.json`.
 */
export function docsPage(doc: Doc): string {
  const ops: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const params = (op.parameters ?? []) as { name: string; in: string; required?: boolean; schema?: { type?: string } }[];
      const responses = Object.entries((op.responses ?? {}) as Record<string, { description?: string }>);
      const security = (op.security ?? []) as Record<string, string[]>[];
      const auth =
        security.length === 0
          ? 'open to everyone'
          : `a bearer token with the ${security.flatMap((s) => Object.values(s).flat()).join(' or ')} scope`;
      ops.push(`<section id="${esc(`${method}-${path}`)}">
<h2><code>${esc(method.toUpperCase())} ${esc(path)}</code></h2>
<p><strong>${esc(op.summary)}</strong></p>${op.description ? `<p>${esc(op.description)}</p>` : ''}
<p>Auth: ${esc(auth)}.</p>
${params.length ? `<h3>Parameters</h3><ul>${params.map((p) => `<li><code>${esc(p.name)}</code> (${esc(p.in)}${p.required ? ', required' : ''}) ${esc(p.schema?.type)}</li>`).join('')}</ul>` : ''}
${op.requestBody ? `<h3>Body</h3><p>JSON: see <code>${esc(Object.keys(op.requestBody.content ?? {}).join(', '))}</code> schema in <a href="/openapi.json">openapi.json</a>.</p>` : ''}
<h3>Responses</h3><ul>${responses.map(([code, r]) => `<li><code>${esc(code)}</code> ${esc(r.description)}</li>`).join('')}</ul>
</section>`);
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(doc.info?.title)} reference</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}section{border-top:1px solid #ddd;margin-top:1.5rem}</style>
</head><body>
<h1>${esc(doc.info?.title)} <small>${esc(doc.info?.version)}</small></h1>
<p>${esc(doc.info?.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
${ops.join('\n')}
</body></html>`;
}

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
