// A `fetchbox worker` with the test's `split` handler registered beside the built-in ones, on the
// compiled dist/ (run `npm run build` first). Configured by the environment like the real one;
// integration tests SIGKILL it mid-job.
import { pino } from 'pino';
import { splitHandler } from './store-split-handler.mjs';

const dist = new URL('../../dist/', import.meta.url);
const { loadConfig } = await import(new URL('config/load-config.js', dist).href);
const { runWorker } = await import(new URL('cli/run-worker.js', dist).href);
const { BUILT_IN_HANDLERS, HandlerRegistry } = await import(new URL('handlers/registry.js', dist).href);

await runWorker(
  loadConfig(process.env),
  pino({ level: process.env.FETCHBOX_LOG_LEVEL ?? 'silent' }),
  new HandlerRegistry([...BUILT_IN_HANDLERS, splitHandler]),
);
