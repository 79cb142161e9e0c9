import { DEFAULT_STORE } from '../config/store-settings.js';
import { ErrorKind } from '../fetch/errors.js';
import type { HandlerContext, ObjectOptions } from '../handlers/handler.js';
import type { HandlerRegistry } from '../handlers/registry.js';
import { joinKey } from '../storage/keys.js';
import { UnknownStoreError, type StoreRegistry } from '../storage/store-registry.js';
import type { Storage } from '../storage/storage.js';
import type { DownloadTask } from '../model/job-types.js';
import { fail } from './failures.js';
import { hook } from './handler-hooks.js';

/** A task's store as it travels: absent for `default`, so states and payloads stay as they were. */
function withStore(task: DownloadTask, store: string | undefined): DownloadTask {
  const { store: _, ...rest } = task;
  return store === undefined || store === DEFAULT_STORE ? rest : { ...rest, store };
}

/**
 * Gives each task its store before any request: the handler's `storeFor` choice (store and key
 * prefix), else the store `expand` set on the task, else the job's store (`policy.store`). A hook
 * that throws fails the page like `storageKey` does (HandlerHookError). Store names are checked
 * where they are used ({@link storageFor}), so one bad choice fails one resource.
 */
export async function assignStores(
  handlers: HandlerRegistry,
  ctx: HandlerContext,
  tasks: DownloadTask[],
  jobStore: string | undefined,
): Promise<DownloadTask[]> {
  const handler = handlers.get(ctx.handler);
  if (!handler.storeFor && jobStore === undefined && tasks.every((t) => t.store === undefined)) return tasks;
  const storeFor = handler.storeFor?.bind(handler);
  return hook('storeFor', () =>
    tasks.map((task) => {
      const choice = storeFor?.(task, ctx);
      const key = choice?.prefix ? joinKey(choice.prefix, task.key) : task.key;
      return withStore({ ...task, key }, choice?.store ?? task.store ?? jobStore);
    }),
  );
}

/** The storage of a task's store; an unknown name fails the resource with kind `handler` (not retried). */
export function storageFor(stores: StoreRegistry, store: string | undefined, attempt: number): Storage {
  try {
    return stores.resolve(store);
  } catch (err) {
    if (err instanceof UnknownStoreError) throw fail(ErrorKind.handler, err.message, attempt);
    throw err;
  }
}

/**
 * Where the object goes once the response is in: the store `objectOptions` named, when it named
 * one other than the task's (returned as `store`, for the resource's state), else the task's.
 */
export function objectStorage(
  stores: StoreRegistry,
  task: DownloadTask,
  taskStorage: Storage,
  options: Pick<ObjectOptions, 'store'>,
  attempt: number,
): { storage: Storage; store?: string } {
  const chosen = options.store;
  if (chosen === undefined || chosen === (task.store ?? DEFAULT_STORE)) return { storage: taskStorage };
  return { storage: storageFor(stores, chosen, attempt), store: chosen };
}
