import { timingSafeEqual, createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { ApiError, ErrorCode } from './api-error.js';

/** Paths that stay open with auth on, so probes need no token. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Bearer-token auth. With no tokens configured every request passes (the server then binds to
 * loopback only). Tokens are compared as sha256 digests with timingSafeEqual, so neither the
 * content nor the length of a token leaks through timing.
 */
export function bearerAuth(tokens: readonly string[]): MiddlewareHandler {
  const known = tokens.map(digest);
  return async (c, next) => {
    if (known.length === 0 || OPEN_PATHS.has(c.req.path)) return next();
    const header = c.req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new ApiError(401, ErrorCode.unauthorized, 'send Authorization: Bearer <token>');
    const given = digest(match[1]!);
    let ok = false;
    for (const k of known) ok = timingSafeEqual(k, given) || ok;
    if (!ok) throw new ApiError(401, ErrorCode.unauthorized, 'unknown token');
    return next();
  };
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
