import type { Context } from 'hono';
import type { AppEnv } from './app-env.js';
import type { ApiToken } from './auth.js';

/** The peer's address as the socket saw it (`local` for `app.request()` in tests, which has no socket). */
export function peerAddress(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return incoming?.socket?.remoteAddress ?? 'local';
}

/**
 * Who a request is, for every per-client limit and as the fairness key of the jobs it submits: the
 * configured token's identity (its name, else `token:<n>`) when auth is on, else `peer:<address>`. Never the `Authorization` text: `bearer T` and `Bearer T`
 * are one client. Set by the route's access declaration (requireScope / publicRoute).
 */
export function identify(c: Context, token: ApiToken | undefined): string {
  return token ? token.id : `peer:${peerAddress(c)}`;
}

/**
 * The identity {@link identify} recorded for this request. Throws when a limit runs before the
 * route's access declaration: the identity would be unknown, and keying on anything else would be
 * guessable or spoofable.
 */
export function clientOf(c: Context<AppEnv>): string {
  const client = c.get('client') as string | undefined;
  if (!client) throw new Error('a per-client limit ran before requireScope/publicRoute identified the client');
  return client;
}
