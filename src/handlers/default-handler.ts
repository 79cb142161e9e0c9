import { defineHandler } from './handler.js';

/** Downloads the manifest's resources as they are, to their `key` or the default key. */
export const defaultHandler = defineHandler({
  name: 'default',
  description: 'Downloads each manifest resource as given.',
});
