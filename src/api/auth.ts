import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError, ErrorCode } from './api-error.js';

/** What a token may do. `ingest` submits and reads jobs; `operator` also retries and cancels; `read` only reads. */
export const Scope = { ingest: 'ingest', operator: 'operator', read: 'read' } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

/**
 * A configured token: its identity, digest and scopes. `id` is what per-client limits and the job's
 * fairness key are keyed on, never the header text, so no spelling of the header gets a fresh bucket;
 * it names no secret: the entry's name (`crawler-a@ingest=...`), else `token:<n>` (the position of the
 * first `FETCHBOX_API_TOKENS` entry with this token).
 */
export interface ApiToken {
  id: string;
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
 * A token's name: up to 64 of `[A-Za-z0-9._-]`, so it is a valid Temporal fairness key and never
 * looks like `token:<n>` or `peer:<address>`.
 */
const TOKEN_NAME = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Parses `FETCHBOX_API_TOKENS` entries: `<token>` (every scope), `<scope>[+<scope>...]=<token>`,
 * e.g. `ingest=abc`, `operator+read=def`, or either with a name, `<name>@<scopes>=<token>`, e.g.
 * `crawler-a@ingest=abc`: the client's identity for limits and fairness (entries with one name are
 * one client, as when a token is rotated). Throws naming the entry's position (never the token).
 */
export function parseTokens(entries: readonly string[]): ApiToken[] {
  // One identity per token: the same token listed twice (with other scopes) shares its limits.
  const ids = new Map<string, string>();
  const idOf = (d: Buffer, i: number, name: string | undefined) => {
    const known = ids.get(d.toString('hex'));
    if (known) return known;
    const id = name ?? `token:${i + 1}`;
    ids.set(d.toString('hex'), id);
    return id;
  };
  return entries.map((entry, i) => {
    const m = /^(?:([^@=]+)@)?([a-z]+(?:\+[a-z]+)*)=(.+)$/.exec(entry);
    if (!m) {
      const d = digest(entry);
      return { id: idOf(d, i, undefined), digest: d, scopes: new Set(ALL_SCOPES) };
    }
    const name = m[1];
    if (name !== undefined && !TOKEN_NAME.test(name))
      throw new Error(`FETCHBOX_API_TOKENS entry ${i + 1}: a token name is 1 to 64 of A-Z a-z 0-9 . _ -`);
    const scopes = m[2]!.split('+');
    const unknown = scopes.filter((s) => !(ALL_SCOPES as string[]).includes(s));
    if (unknown.length > 0)
      throw new Error(`FETCHBOX_API_TOKENS entry ${i + 1}: unknown scope ${unknown.join(', ')} (use ingest, operator, read)`);
    const d = digest(m[3]!);
    return { id: idOf(d, i, name), digest: d, scopes: new Set(scopes as Scope[]) };
  });
}

/** `ingest` and `operator` tokens may read too. */
function grants(token: ApiToken, scope: Scope): boolean {
  return token.scopes.has(scope) || (scope === Scope.read && (token.scopes.has(Scope.ingest) || token.scopes.has(Scope.operator)));
}

/**
 * The one parser of `Authorization: Bearer <token>`: the scheme in any case (`Bearer`, `bearer`,
 * `BEARER`), exactly one space (SP), then a token of visible ASCII characters and nothing else.
 * Two spaces, a TAB, another scheme, no token: undefined (a 401). Leading and trailing whitespace
 * never reaches here (HTTP parsers and `Headers` strip it).
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^bearer ([\x21-\x7e]+)$/i.exec(authorization ?? '');
  return match?.[1];
}

/**
 * Checks an `Authorization` header against the configured tokens for one scope and answers the
 * token it names (undefined when no tokens are configured: every request passes, and the server
 * binds to loopback only). Tokens are compared as sha256 digests with timingSafeEqual against every
 * configured token, so neither content nor length leaks through timing. Throws `401 unauthorized`
 * without a known token (or a header {@link bearerToken} refuses), `403 forbidden` when the token
 * lacks the scope.
 */
export function authenticate(tokens: readonly ApiToken[], authorization: string | undefined, scope: Scope): ApiToken | undefined {
  if (tokens.length === 0) return undefined;
  const token = bearerToken(authorization);
  if (token === undefined) throw new ApiError(401, ErrorCode.unauthorized, 'send Authorization: Bearer <token> (one space)');
  const given = digest(token);
  // Every entry is compared (no early exit); a token listed twice has the scopes of both entries.
  const found = tokens.filter((t) => timingSafeEqual(t.digest, given));
  if (found.length === 0) throw new ApiError(401, ErrorCode.unauthorized, 'unknown token');
  const granting = found.find((t) => grants(t, scope));
  if (!granting) throw new ApiError(403, ErrorCode.forbidden, `this token lacks the ${scope} scope`);
  return granting;
}

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
