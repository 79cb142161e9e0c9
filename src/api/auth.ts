import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError, ErrorCode } from './api-error.js';

/** What a token may do. `ingest` submits and reads jobs; `operator` also retries and cancels; `read` only reads. */
export const Scope = { ingest: 'ingest', operator: 'operator', read: 'read' } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

/** A configured token: its digest and its scopes. */
export interface ApiToken {
  digest: Buffer;
  scopes: ReadonlySet<Scope>;
}

/**
 * What a route declared about who may call it: a scope a bearer token must grant, or open to
 * everyone. Declared with `requireScope` / `publicRoute` (src/api/route-security.ts).
 */
export type RouteAccess = { readonly scope: Scope } | { readonly public: true };

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
    if (unknown.length > 0)
      throw new Error(`FETCHBOX_API_TOKENS entry ${i + 1}: unknown scope ${unknown.join(', ')} (use ingest, operator, read)`);
    return { digest: digest(m[2]!), scopes: new Set(scopes as Scope[]) };
  });
}

/** `ingest` and `operator` tokens may read too. */
function grants(token: ApiToken, scope: Scope): boolean {
  return token.scopes.has(scope) || (scope === Scope.read && (token.scopes.has(Scope.ingest) || token.scopes.has(Scope.operator)));
}

/**
 * Checks an `Authorization` header against the configured tokens for one scope. With no tokens
 * configured every request passes (the server then binds to loopback only). Tokens are compared as
 * sha256 digests with timingSafeEqual against every configured token, so neither content nor
 * length leaks through timing. Throws `401 unauthorized` without a known token, `403 forbidden`
 * when the token lacks the scope.
 */
export function checkBearer(tokens: readonly ApiToken[], authorization: string | undefined, scope: Scope): void {
  if (tokens.length === 0) return;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) throw new ApiError(401, ErrorCode.unauthorized, 'send Authorization: Bearer <token>');
  const given = digest(match[1]!);
  let found: ApiToken | undefined;
  for (const t of tokens) if (timingSafeEqual(t.digest, given)) found = t;
  if (!found) throw new ApiError(401, ErrorCode.unauthorized, 'unknown token');
  if (!grants(found, scope)) throw new ApiError(403, ErrorCode.forbidden, `this token lacks the ${scope} scope`);
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
