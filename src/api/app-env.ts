import type { Logger } from 'pino';

/** Hono environment of the FetchBox API: what middleware puts on the context. */
export interface AppEnv {
  Variables: {
    logger: Logger;
  };
}
