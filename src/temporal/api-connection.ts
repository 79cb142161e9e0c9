import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';
import type { TemporalConnectionOptions } from './connection-options.js';

/**
 * How many times the API's Temporal connection tries one call when the server answers UNAVAILABLE
 * (and the like). The SDK default is 10 tries over about 20 s; the API answers a crawler within
 * `api.temporalTimeoutMs`, so it stops after 4 tries (about 1 s of backoff) and says 503. It also
 * means no retry is still pending a second after a request ends, so closing the connection on
 * shutdown cannot race a late retry ("Channel has been shut down").
 */
export const API_GRPC_MAX_ATTEMPTS = 4;

/**
 * Options for a Temporal client connection used by request handlers (the API, readiness probes):
 * address, TLS, API key and metadata as temporalConnectionOptions resolves them.
 */
export interface ApiConnectionOptions extends TemporalConnectionOptions {
  /** How long a call waits for a TCP connection; the SDK default is 10 s. */
  connectTimeoutMs?: number;
}

/**
 * A lazy Temporal client connection with the API's short retry budget. Use it wherever a person or
 * a crawler waits on the answer; workers and long-running tools keep the SDK's longer retries.
 */
export function createApiConnection(options: ApiConnectionOptions): Connection {
  const { connectTimeoutMs, ...connection } = options;
  return Connection.lazy({
    ...connection,
    ...(connectTimeoutMs ? { connectTimeout: connectTimeoutMs } : {}),
    interceptors: [makeGrpcRetryInterceptor(defaultGrpcRetryOptions({ maxAttempts: API_GRPC_MAX_ATTEMPTS }))],
  });
}
