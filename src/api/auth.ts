import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError, ErrorCode } from './api-error.js';

/** What a token may do. `ingest` submits and reads jobs; `operator` also retries and cancels; `read` only reads. */
export const Scope = { ingest: 'ingest', operator: 'operator', read: 'read' } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

/** A configured token: its digest and its scopes. */
export interface ApiToken {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

const ALL_SCOPES: readonly Scope[] = [Scope.ingest, Scope.operator, Scope.read];

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Parses `FETCHBOX_API_TOKENS` entries: `<token>` (every scope) or `<scope>[+<scope>...]=<token>`,
 * e.g. `ingest=abc`, `operator+read=def`. Throws naming the entry's position (never the token).
 */
export function parseTokens(entries: readonly string[]): ApiToken[] {
  return entries.map((entry, i) => {
    const m = /^([a-z]+(?:\+[a-z]+)*)=(.+)$/.exec(entry);
    if (!m) return { digest: digest(entry), scopes: new Set(ALL_SCOPES) };
    const scopes = m[1]!.split('+');
    const unknown = scopes.filter((s) => !(ALL_SCOPES as string[]).includes(s));
    if (unknown.length > 0) throw new Error(`FETCHBOX_API_TOKENS entry ${i + 1}: unknown scope ${unknown.join(', ')} (use ingest, operator, read)`);
    return { digest: digest(m[2]!), scopes: new Set(scopes as Scope[]) };
  });
}

/** The scope a request needs, or undefined for routes open to everyone. */
export function requiredScope(method: string, path: string, metricsPublic: boolean): Scope | undefined {
  if (path === '/healthz' || path === '/readyz') return undefined;
  if (path === '/metrics') return metricsPublic ? undefined : Scope.read;
  if (path === '/openapi.json' || path === '/docs') return undefined;
  if (method === 'POST' && path === '/jobs') return Scope.ingest;
  if (method === 'POST' && /^\/jobs\/[^/]+\/(retry|cancel)$/.test(path)) return Scope.operator;
  return Scope.read;
}

/** `ingest` and `operator` tokens may read too. */
function grants(token: ApiToken, scope: Scope): boolean {
  return token.scopes.has(scope) || (scope === Scope.read && (token.scopes.has(Scope.ingest) || token.scopes.has(Scope.operator)));
}

/**
 * Bearer-token auth with scopes. With no tokens configured every request passes (the server then
 * binds to loopback only). Tokens are compared as sha256 digests with timingSafeEqual against
 * every configured token, so neither content nor length leaks through timing. 401 without a
 * known token, 403 when the token lacks the route's scope.
 */
export function bearerAuth(tokens: readonly ApiToken[], options: { metricsPublic: boolean }): MiddlewareHandler {
  return async (c, next) => {
    if (tokens.length === 0) return next();
    const scope = requiredScope(c.req.method, c.req.path, options.metricsPublic);
    if (scope === undefined) return next();
    const match = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '');
    if (!match) throw new ApiError(401, ErrorCode.unauthorized, 'send Authorization: Bearer <token>');
    const given = digest(match[1]!);
    let found: ApiToken | undefined;
    for (const t of tokens) if (timingSafeEqual(t.digest, given)) found = t;
    if (!found) throw new ApiError(401, ErrorCode.unauthorized, 'unknown token');
    if (!grants(found, scope)) throw new ApiError(403, ErrorCode.forbidden, `this token lacks the ${scope} scope`);
    return next();
  };
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
