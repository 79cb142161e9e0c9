import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../src/api/api-error.js';
import type { AppEnv } from '../../src/api/app-env.js';
import { parseTokens, Scope } from '../../src/api/auth.js';
import type { JobService } from '../../src/api/job-service.js';
import {
  assertRouteSecurity,
  declaredRoutes,
  publicRoute,
  requireScope,
  routeGuard,
  RouteSecurityError,
  securityFor,
} from '../../src/api/route-security.js';
import { testApp } from '../support/app.js';

// Auth answers before the job service is called; this service fails the test if it is.
const untouchable = new Proxy({} as JobService, {
  get(_t, prop) {
    if (prop === 'temporalUiUrl') return () => 'http://ui';
    throw new Error(`job service called (${String(prop)}) for a request that should have been refused`);
  },
});

const tokens = parseTokens(['ingest=crawler', 'operator=ops', 'read=viewer']);
const build = (metricsPublic: boolean, withTokens = true) =>
  testApp(untouchable, { bodyLimitBytes: 1024, tokens: withTokens ? tokens : [], metricsPublic });

/** A concrete URL for a Hono route path (`/jobs/:jobId` → `/jobs/a%20b`). */
const urlOf = (path: string) => path.replaceAll(/:[^/]+/g, 'a%20b'); // an invalid jobId: validation answers, never the service

const request = (
  app: { request: (url: string, init: RequestInit) => Response | Promise<Response> },
  method: string,
  path: string,
  token?: string,
) =>
  app.request(urlOf(path), {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }),
  });

describe('every route declares its access', () => {
  for (const metricsPublic of [true, false]) {
    describe(`metricsPublic=${metricsPublic}`, () => {
      const app = build(metricsPublic);
      const routes = declaredRoutes(app);

      it('enumerates every route the app serves, each with a scope or declared public', () => {
        expect(routes.length).toBeGreaterThanOrEqual(12);
        expect(routes.filter((r) => !r.access)).toEqual([]);
        const access = (method: string, path: string) => routes.find((r) => r.method === method && r.path === path)?.access;
        expect(access('POST', '/jobs')).toEqual({ scope: 'ingest' });
        expect(access('POST', '/jobs/:jobId/retry')).toEqual({ scope: 'operator' });
        expect(access('POST', '/jobs/:jobId/cancel')).toEqual({ scope: 'operator' });
        expect(access('GET', '/jobs/:jobId')).toEqual({ scope: 'read' });
        for (const path of ['/healthz', '/readyz', '/openapi.json', '/docs']) expect(access('GET', path)).toEqual({ public: true });
        expect(access('GET', '/metrics')).toEqual(metricsPublic ? { public: true } : { scope: 'read' });
      });

      it('refuses a request without a token, or with an unknown one, on every non-public route (401 unauthorized)', async () => {
        const secured = routes.filter((r) => r.access && 'scope' in r.access);
        expect(secured.length).toBeGreaterThanOrEqual(7);
        for (const r of secured) {
          for (const token of [undefined, 'nope']) {
            const res = await request(app, r.method, r.path, token);
            expect(res.status, `${r.method} ${r.path} token=${token}`).toBe(401);
            expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
          }
        }
      });

      it('answers 403 forbidden to a token without the route scope, and lets a token with it through', async () => {
        const holder = { ingest: 'crawler', operator: 'ops', read: 'viewer' } as const;
        for (const r of routes) {
          if (!r.access || !('scope' in r.access) || r.access.scope === Scope.read) continue;
          const res = await request(app, r.method, r.path, 'viewer');
          expect(res.status, `${r.method} ${r.path}`).toBe(403);
          expect(await res.json()).toMatchObject({ error: { code: 'forbidden', message: `this token lacks the ${r.access.scope} scope` } });
          // Past auth the request reaches validation (the empty body or the path), never the service.
          expect((await request(app, r.method, r.path, holder[r.access.scope])).status, `${r.method} ${r.path}`).toBe(400);
        }
      });

      it('serves public routes without a token', async () => {
        for (const r of routes.filter((r) => r.access && 'public' in r.access)) {
          expect((await request(app, r.method, r.path)).status, `${r.method} ${r.path}`).toBe(200);
        }
      });

      it('declares the bearer scheme, and each operation the security of its route', async () => {
        const doc = (await (await app.request('/openapi.json')).json()) as any;
        expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
        let operations = 0;
        for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, { security?: unknown }>>)) {
          for (const [method, op] of Object.entries(methods)) {
            const route = routes.find((r) => r.method === method.toUpperCase() && r.path === path.replaceAll(/\{([^}]+)\}/g, ':$1'));
            expect(route?.access, `${method} ${path}`).toBeDefined();
            expect(op.security, `${method} ${path}`).toEqual(securityFor(route!.access!));
            operations++;
          }
        }
        expect(operations).toBeGreaterThanOrEqual(10);
        expect(doc.paths['/jobs'].post.security).toEqual([{ bearerAuth: ['ingest'] }]);
        expect(doc.paths['/healthz'].get.security).toEqual([]);
      });
    });
  }
});

describe('default deny', () => {
  const handlerRan: string[] = [];

  it('refuses a route added without a declaration (403), whatever the token, and even with auth off', async () => {
    for (const withTokens of [true, false]) {
      const app = build(true, withTokens);
      app.get('/undeclared', (c) => (handlerRan.push('get'), c.text('leaked')));
      app.post('/jobs/:jobId/undeclared', (c) => (handlerRan.push('post'), c.text('leaked')));
      for (const [method, path] of [
        ['GET', '/undeclared'],
        ['POST', '/jobs/:jobId/undeclared'],
      ] as const) {
        for (const token of [undefined, 'crawler', 'ops', 'viewer']) {
          const res = await request(app, method, path, token);
          expect(res.status, `${method} ${path} token=${token}`).toBe(403);
          expect(await res.json()).toMatchObject({ error: { code: 'forbidden', message: expect.stringMatching(/declares no access/) } });
        }
      }
      expect(
        declaredRoutes(app)
          .filter((r) => !r.access)
          .map((r) => `${r.method} ${r.path}`),
      ).toEqual(['GET /undeclared', 'POST /jobs/:jobId/undeclared']);
      expect(() => assertRouteSecurity(app)).toThrow(RouteSecurityError);
      expect(() => assertRouteSecurity(app)).toThrow(/GET \/undeclared: declares no access/);
    }
    expect(handlerRan).toEqual([]);
  });

  it('refuses a createRoute route without middleware, or whose declaration is not its first middleware', async () => {
    const sub = new OpenAPIHono<AppEnv>()
      .openapi(createRoute({ method: 'post', path: '/bare', responses: { 200: { description: 'ok' } } }), (c) => c.text('leaked'))
      .openapi(
        createRoute({
          method: 'post',
          path: '/late',
          middleware: [async (_c, next) => next(), requireScope(Scope.operator)],
          security: [{ bearerAuth: [Scope.operator] }],
          responses: { 200: { description: 'ok' } },
        }),
        (c) => c.text('leaked'),
      );
    const app = new OpenAPIHono<AppEnv>();
    app.use('*', routeGuard(tokens)).route('/', sub);
    app.onError((err, c) => (err instanceof ApiError ? c.json(err.body(), err.status) : c.text('unexpected', 500)));
    for (const path of ['/bare', '/late']) expect((await request(app, 'POST', path, 'ops')).status, path).toBe(403);
    expect(() => assertRouteSecurity(app)).toThrow(/POST \/bare: declares no access[\s\S]*POST \/late: declares no access/);
  });

  it('refuses an undeclared route even behind a declaring middleware of a wider path', async () => {
    const app = build(true);
    app.use('/jobs/:jobId/*', publicRoute());
    app.get('/jobs/:jobId/secret', (c) => c.text('leaked'));
    const res = await request(app, 'GET', '/jobs/:jobId/secret', 'viewer');
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({
      error: { code: 'forbidden', message: expect.stringMatching(/^GET \/jobs\/:jobId\/secret declares no access/) },
    });
    expect(() => assertRouteSecurity(app)).toThrow(/GET \/jobs\/:jobId\/secret: declares no access/);
  });

  it('refuses to build an app whose OpenAPI security differs from its middleware', () => {
    const route = (security: Record<string, string[]>[] | undefined) =>
      createRoute({
        method: 'get',
        path: '/x',
        middleware: [requireScope(Scope.operator)],
        ...(security ? { security } : {}),
        responses: { 200: { description: 'ok' } },
      });
    const ok = new OpenAPIHono<AppEnv>().openapi(route([{ bearerAuth: ['operator'] }]), (c) => c.text('ok'));
    expect(() => assertRouteSecurity(ok)).not.toThrow();
    for (const security of [undefined, [], [{ bearerAuth: ['read'] }]]) {
      const app = new OpenAPIHono<AppEnv>().openapi(route(security), (c) => c.text('ok'));
      expect(() => assertRouteSecurity(app), JSON.stringify(security)).toThrow(/GET \/x: OpenAPI security/);
    }
    const open = new OpenAPIHono<AppEnv>().openapi(
      createRoute({
        method: 'get',
        path: '/y',
        middleware: [publicRoute()],
        security: [{ bearerAuth: [] }],
        responses: { 200: { description: 'ok' } },
      }),
      (c) => c.text('ok'),
    );
    expect(() => assertRouteSecurity(open)).toThrow(/GET \/y: OpenAPI security/);
  });

  it('fails closed when requireScope runs without the guard', async () => {
    const app = new OpenAPIHono<AppEnv>().get('/x', requireScope(Scope.read), (c) => c.text('leaked'));
    app.onError((err, c) => c.text(err.message, 500));
    const res = await app.request('/x');
    expect(res.status).toBe(500);
    expect(await res.text()).toMatch(/routeGuard is not installed/);
  });
});

describe('token semantics', () => {
  it('with no tokens configured every declared route passes auth', async () => {
    const app = build(false, false);
    for (const r of declaredRoutes(app)) {
      const status = (await request(app, r.method, r.path)).status;
      expect([401, 403], `${r.method} ${r.path}`).not.toContain(status);
    }
  });

  it('an unknown path needs a token before its 404 (as before)', async () => {
    const app = build(true);
    expect((await app.request('/nowhere')).status).toBe(401);
    const res = await app.request('/nowhere', { headers: { authorization: 'Bearer viewer' } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('checks the token before the submit route reads its body (401, not 413 or 415)', async () => {
    const app = build(true);
    const post = (body: string, type: string, token?: string) =>
      app.request('/jobs', {
        method: 'POST',
        headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body,
      });
    const big = JSON.stringify({ resources: Array.from({ length: 100 }, (_, i) => ({ url: `http://x.test/${i}` })) });
    expect((await post(big, 'application/json')).status).toBe(401);
    expect((await post('{}', 'text/plain')).status).toBe(401);
    expect((await post(big, 'application/json', 'viewer')).status).toBe(403);
    expect((await post(big, 'application/json', 'crawler')).status).toBe(413);
    expect((await post('{}', 'text/plain', 'crawler')).status).toBe(415);
  });

  it('ingest and operator tokens may read', async () => {
    const app = build(false);
    for (const token of ['crawler', 'ops', 'viewer'])
      expect((await request(app, 'GET', '/jobs/:jobId/resources', token)).status).not.toBe(403);
    expect((await request(app, 'GET', '/metrics', 'crawler')).status).toBe(200);
  });
});

describe('the reference page', () => {
  it('says per operation whether it is open or which scope it needs', async () => {
    const html = await (await build(false).request('/docs')).text();
    const section = (id: string) =>
      html.slice(html.indexOf(`<section id="${id}"`), html.indexOf('</section>', html.indexOf(`<section id="${id}"`)));
    expect(section('post-/jobs/{jobId}/retry')).toContain('Auth: a bearer token with the operator scope.');
    expect(section('post-/jobs')).toContain('Auth: a bearer token with the ingest scope.');
    expect(section('get-/healthz')).toContain('Auth: open to everyone.');
    expect(section('get-/metrics')).toContain('Auth: a bearer token with the read scope.');
  });
});
