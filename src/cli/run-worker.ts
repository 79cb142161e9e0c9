import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from '../config/config-schema.js';
import { createFetcher } from '../fetch/fetcher.js';
import { builtInHandlers } from '../handlers/registry.js';
import { createStorage } from '../storage/create-storage.js';
import { createFetchBoxWorker } from '../worker/create-worker.js';

/** A running worker; `close()` drains it (in-flight activities finish or time out) and disconnects. */
export interface RunningWorker {
  worker: Worker;
  close(): Promise<void>;
}

/** Starts a worker on the configured task queue (`fetchbox worker`, and part of `fetchbox dev`). */
export async function runWorker(config: Config, logger: Logger): Promise<RunningWorker> {
  const storage = createStorage(config.storage);
  await storage.check();
  const fetcher = createFetcher(config.fetch);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const clientConnection = Connection.lazy({ address: config.temporal.address });
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  const worker = await createFetchBoxWorker({ config, connection, client, storage, fetcher, handlers: builtInHandlers() });
  const running = worker.run();
  logger.info({ taskQueue: config.temporal.taskQueue, storage: storage.url }, 'worker running');
  return {
    worker,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch((err: unknown) => logger.error({ err }, 'worker stopped with an error'));
      await connection.close();
      await clientConnection.close();
      await fetcher.close();
      await storage.close();
    },
  };
}

