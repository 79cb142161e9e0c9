/**
 * The `fetchbox` package: what a handler author imports (docs/handlers.md). Handler modules load
 * this entry in the API too, so it loads no worker code: {@link startWorker} imports the worker
 * when called. The test harness is `fetchbox/testing`; the typed API client is `fetchbox/client`.
 */
export { defineHandler, defaultStorageKey, safeName, urlFileName } from './handlers/handler.js';
export type { FetchedText, Handler, HandlerContext, HandlerPolicy, ObjectOptions, ResponseInfo, StoreChoice } from './handlers/handler.js';
export type { DownloadTask, JobPolicy, ManifestResource } from './model/job-types.js';
export { HANDLER_NAME, HandlerModuleError } from './handlers/handler-modules.js';
export { startWorker, type StartWorkerOptions } from './worker/start-worker.js';
export type { RunningWorker } from './cli/run-worker.js';
export { ConfigError, loadConfig } from './config/load-config.js';
export type { Config } from './config/config-schema.js';
