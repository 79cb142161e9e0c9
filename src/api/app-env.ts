import type { Logger } from 'pino';
import type { ApiToken, RouteAccess } from './auth.js';
import type { Manifest } from './submit/manifest-schema.js';

/** Hono environment of the FetchBox API: what middleware puts on the context. */
export interface AppEnv {
  Variables: {
    logger: Logger;
    /** The configured bearer tokens, set by `routeGuard` for `requireScope` (empty: auth off). */
    tokens: readonly ApiToken[];
    /** The access the matched route declared and that this request passed; set by `requireScope` / `publicRoute`. */
    access: RouteAccess;
    /** Who the request is for per-client limits (a token's identity or the peer address); see client-identity.ts. */
    client: string;
    /** The manifest of `POST /jobs`, parsed and validated once by that route's guards (submit/submit-routes.ts); no other route sets it. */
    manifest: Manifest;
  };
}
