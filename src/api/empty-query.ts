import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './app-env.js';

/**
 * Drops query parameters sent with an empty value (`?status=&cursor=`), so each counts as not
 * given: the contract writes its filters that way (`GET /jobs?status=&handler=&limit=&cursor=`),
 * and a client that pastes an absent cursor or filter into its URL as `cursor=` gets the first
 * page rather than a 400. Only GET requests, and only when a parameter is empty.
 */
export const dropEmptyQueryParams: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (c.req.method === 'GET') {
    const url = new URL(c.req.url);
    const empty = [...url.searchParams].filter(([, value]) => value === '').map(([key]) => key);
    if (empty.length > 0) {
      for (const key of empty) if (url.searchParams.getAll(key).every((v) => v === '')) url.searchParams.delete(key);
      c.req.raw = new Request(url, c.req.raw);
    }
  }
  await next();
};
