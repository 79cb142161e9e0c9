// A handler that splits a job's objects among stores, in plain JavaScript with no imports so the
// integration test (through vitest) and a spawned worker process (store-worker.mjs, on dist/)
// load the very same object. The same shape as the docs/handlers.md example.

/**
 * `split`: URLs with `-img-` go to store `images` under `pics/` (chosen before the request, so
 * skip-if-present and resume checks look there); bodies of 8 KiB or more go to store `archive`
 * (chosen from the response's Content-Length); everything else stays in the job's store.
 */
export const splitHandler = {
  name: 'split',
  description: 'Images to the images store, large bodies to the archive store.',
  storeFor: (task) => (task.url.includes('-img-') ? { store: 'images', prefix: 'pics' } : undefined),
  objectOptions: (task, response) => ((response.contentLength ?? 0) >= 8192 ? { store: 'archive', metadata: { routed: 'by-size' } } : {}),
  policy: { allowedStores: ['images', 'archive'] },
};
