import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, Env, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { ApiError, ErrorCode } from './api-error.js';
import type { AppEnv } from './app-env.js';
import { authenticate, Scope, type ApiToken, type RouteAccess } from './auth.js';
import { identify } from './client-identity.js';

// Auth is declared by each route, next to its path and schemas, and denied by default:
//
//   createRoute({ method: 'post', path: '/things', ...,
//     middleware: [requireScope(Scope.operator)],      // enforced first in the route's chain
//     security: [{ bearerAuth: [Scope.operator] }] })  // the same, in the OpenAPI document
//
// or `middleware: [publicRoute()], security: []` for a route open to everyone. `routeGuard`
// (app-wide, before any route runs) refuses a request that reaches a route (method and path) not
// starting with one of these declarations, and `assertRouteSecurity` refuses to build such an app.

/** The OpenAPI security scheme every token-protected route names in its `security`. */
export const BEARER_SCHEME = 'bearerAuth';

/** The scheme's definition for `components.securitySchemes`. */
export const bearerSecurityScheme = {
  type: 'http',
  scheme: 'bearer',
  description: 'A token of FETCHBOX_API_TOKENS. The role list of each operation names the scope it needs (ingest, operator or read).',
} as const;

/** What each declaring or app-wide middleware is; middleware not in here declares nothing. */
const declared = new WeakMap<object, RouteAccess | 'app-wide'>();

function declare<M extends MiddlewareHandler<any>>(access: RouteAccess | 'app-wide', middleware: M): M {
  declared.set(middleware, access);
  return middleware;
}

/** The access a handler declares, or undefined. */
function accessOf(handler: object): RouteAccess | undefined {
  const access = declared.get(handler);
  return access === 'app-wide' ? undefined : access;
}

/** Why a route table is refused at build time; `problems` name each route. */
export class RouteSecurityError extends Error {
  override readonly name = 'RouteSecurityError';
  constructor(readonly problems: readonly string[]) {
    super(
      `routes without a consistent access declaration (requireScope or publicRoute first in the route's middleware):\n${problems.join('\n')}`,
    );
  }
}

function tokensOf(c: Context<AppEnv>): readonly ApiToken[] {
  const tokens = c.get('tokens') as readonly ApiToken[] | undefined;
  // Fail closed: without the guard nobody told this middleware which tokens exist.
  if (!tokens) throw new Error('routeGuard is not installed: requireScope cannot know the configured tokens');
  return tokens;
}

/**
 * Route middleware that lets a request through only with a bearer token granting `scope`
 * (`ingest` and `operator` tokens also grant `read`): `401 unauthorized` without a known token,
 * `403 forbidden` without the scope. It records who the client is (the token's identity, or the
 * peer address without auth) for the per-client limits after it. With no tokens configured every request passes (the API then
 * binds to loopback only). Put it first in `createRoute({ middleware })` and name the same scope in
 * `security: [{ bearerAuth: [scope] }]`.
 */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return declare({ scope }, async (c, next) => {
    const token = authenticate(tokensOf(c), c.req.header('authorization'), scope);
    c.set('access', { scope });
    c.set('client', identify(c, token));
    await next();
  });
}

/** Route middleware declaring the route open to everyone, tokens or not; pair it with `security: []`. */
export function publicRoute(): MiddlewareHandler<AppEnv> {
  return declare({ public: true }, async (c, next) => {
    c.set('access', { public: true });
    c.set('client', identify(c, undefined));
    await next();
  });
}

/**
 * A route's whole access declaration for `createRoute`: {@link requireScope} first (then `more`,
 * e.g. body limits that must not run before the token is checked) and the matching OpenAPI
 * `security`, so the two cannot disagree. Spread it: `createRoute({ ...scoped(Scope.read), ... })`.
 */
export function scoped(scope: Scope, ...more: MiddlewareHandler<AppEnv>[]) {
  return { middleware: [requireScope(scope), ...more], security: securityFor({ scope }) };
}

/** The declaration of a route open to everyone: {@link publicRoute} and `security: []`. */
export function unscoped() {
  return { middleware: [publicRoute()], security: securityFor({ public: true }) };
}

/** Marks middleware the app installs for every request (logging, metrics), which declares no route access. */
export function appWide<M extends MiddlewareHandler<any>>(middleware: M): M {
  return declare('app-wide', middleware);
}

/**
 * The app-wide guard, installed before any route: it hands the configured tokens to `requireScope`
 * and refuses with `403 forbidden` any request that reaches a route (method and path) not starting
 * with a declaration (`requireScope` or `publicRoute`), whatever the token, even with auth off: no token
 * can unlock a route that never said who may call it. A request no route matches needs a token
 * with the `read` scope before it gets its 404 (as every unknown path did before).
 */
export function routeGuard(tokens: readonly ApiToken[]): MiddlewareHandler<AppEnv> {
  return appWide(async (c, next) => {
    c.set('tokens', tokens);
    // Every route (method and path) this request reaches must start with a declaration.
    const seen = new Set<string>();
    for (const r of matchedRoutes(c)) {
      const key = `${r.method} ${r.path}`;
      if (declared.get(r.handler) === 'app-wide' || seen.has(key)) continue;
      seen.add(key);
      if (!accessOf(r.handler))
        throw new ApiError(403, ErrorCode.forbidden, `${key} declares no access (requireScope or publicRoute): refused by default`);
    }
    if (seen.size === 0) authenticate(tokens, c.req.header('authorization'), Scope.read);
    await next();
  });
}

/**
 * The path of the declared route a request reached (`/jobs/:jobId`), undefined when it reached none
 * (an unknown path or method): the `route` label of the API's request metrics.
 */
export function declaredRouteOf(c: Context): string | undefined {
  return matchedRoutes(c).find((r) => accessOf(r.handler) !== undefined)?.path;
}

/** One route of an app with what it declared (undefined: nothing, so it is refused). */
export interface DeclaredRoute {
  method: string;
  path: string;
  access: RouteAccess | undefined;
}

/**
 * Every route an app serves (method and Hono path, app-wide middleware left out) with the access its
 * first handler declares, in registration order: what the guard decides per request, for the whole
 * table at once.
 */
export function declaredRoutes(app: { routes: readonly { method: string; path: string; handler: object }[] }): DeclaredRoute[] {
  const routes = new Map<string, DeclaredRoute>();
  for (const r of app.routes) {
    const key = `${r.method} ${r.path}`;
    if (declared.get(r.handler) === 'app-wide' || routes.has(key)) continue;
    routes.set(key, { method: r.method, path: r.path, access: accessOf(r.handler) });
  }
  return [...routes.values()];
}

/** The `security` an OpenAPI operation must carry for a declaration. */
export function securityFor(access: RouteAccess): Record<string, string[]>[] {
  return 'scope' in access ? [{ [BEARER_SCHEME]: [access.scope] }] : [];
}

/**
 * Throws {@link RouteSecurityError} when a route declares no access, or when an operation of the
 * OpenAPI document has no `security` or one that differs from its route's declaration. Called at
 * the end of `createApp`, so an undeclared route stops the process at start (and every test).
 */
export function assertRouteSecurity<E extends Env>(app: OpenAPIHono<E, any, any>): void {
  const routes = declaredRoutes(app);
  const problems = routes.filter((r) => !r.access).map((r) => `${r.method} ${r.path}: declares no access`);
  for (const def of app.openAPIRegistry.definitions) {
    if (def.type !== 'route') continue;
    const method = def.route.method.toUpperCase();
    const path = def.route.path.replaceAll(/\/{(.+?)}/g, '/:$1');
    const access = routes.find((r) => r.method === method && r.path === path)?.access;
    if (!access) continue; // reported above, or not served at all
    if (JSON.stringify(def.route.security) !== JSON.stringify(securityFor(access))) {
      problems.push(
        `${method} ${path}: OpenAPI security ${JSON.stringify(def.route.security)} but the route declares ${JSON.stringify(securityFor(access))}`,
      );
    }
  }
  if (problems.length > 0) throw new RouteSecurityError(problems);
}
