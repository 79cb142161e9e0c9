import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineHandler } from '../../src/handlers/handler.js';
import { createHandlerHarness } from '../../src/handlers/testing.js';
import { FileStorage } from '../../src/storage/file-storage.js';
import { readBack } from '../support/objects.js';
import { contentSha256, startOrigin, type Origin } from '../support/origin.js';

/**
 * A handler that splits its objects among stores, every way a handler can: its jobs go to
 * `archive` (policy.store), PDFs to `documents` under `pdf/` (storeFor, before the request), bodies
 * over 3,000 bytes to `images` (objectOptions, from the response's Content-Length), and anything
 * named `ghost` to a store no configuration declares.
 */
const splitter = defineHandler({
  name: 'splitter',
  policy: { store: 'archive' },
  storeFor: (task) =>
    task.url.includes('ghost') ? { store: 'ghost' } : task.url.endsWith('.pdf') ? { store: 'documents', prefix: 'pdf' } : undefined,
  objectOptions: (_task, response) => ((response.contentLength ?? 0) > 3000 ? { store: 'images' } : {}),
});

let origin: Origin;
let dir: string;
beforeAll(async () => {
  origin = await startOrigin();
  dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-harness-stores-'));
});
afterAll(async () => {
  await origin?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('handler harness with named stores', () => {
  it('routes objects as a job would: policy.store, storeFor with a prefix, objectOptions, and an unknown name fails the resource', async () => {
    const names = ['default', 'archive', 'documents', 'images'] as const;
    const stores = Object.fromEntries(names.map((n) => [n, new FileStorage(path.join(dir, n))]));
    const { default: defaultStore, ...named } = stores;
    const harness = await createHandlerHarness(splitter, { allowCidrs: ['127.0.0.1/32'], storage: defaultStore!, stores: named });
    try {
      expect(harness.stores.names()).toEqual([...names]);
      const page = await harness.expand([
        { id: 'plain', url: `${origin.url}/bytes/1000/plain`, key: 'k/plain' },
        { id: 'doc', url: `${origin.url}/bytes/2000/doc.pdf`, key: 'k/doc.pdf' },
        { id: 'big', url: `${origin.url}/bytes/5000/big`, key: 'k/big' },
        { id: 'ghost', url: `${origin.url}/bytes/100/ghost`, key: 'k/ghost' },
      ]);
      const byId = new Map(page.tasks.map((t) => [t.id, t]));
      expect(byId.get('plain')).toMatchObject({ key: 'k/plain', store: 'archive' });
      expect(byId.get('doc')).toMatchObject({ key: 'pdf/k/doc.pdf', store: 'documents' });
      expect(byId.get('big')).toMatchObject({ key: 'k/big', store: 'archive' });
      expect(byId.get('ghost')).toMatchObject({ store: 'ghost' });

      const plain = await harness.download(byId.get('plain')!);
      const doc = await harness.download(byId.get('doc')!);
      const big = await harness.download(byId.get('big')!);
      expect(plain.store).toBeUndefined(); // in its task's store
      expect(doc.store).toBeUndefined();
      expect(big.store).toBe('images'); // moved by objectOptions after the headers
      expect(await readBack(stores.archive!, 'k/plain')).toEqual({ sha256: contentSha256('plain', 1000), bytes: 1000 });
      expect(await readBack(stores.documents!, 'pdf/k/doc.pdf')).toEqual({ sha256: contentSha256('doc.pdf', 2000), bytes: 2000 });
      expect(await readBack(stores.images!, 'k/big')).toEqual({ sha256: contentSha256('big', 5000), bytes: 5000 });
      // Each object is in its own store only.
      for (const [store, key] of [
        ['default', 'k/plain'],
        ['images', 'k/plain'],
        ['archive', 'k/big'],
        ['default', 'pdf/k/doc.pdf'],
      ] as const) {
        expect(await stores[store]!.head(key), `${key} in ${store}`).toBeUndefined();
      }

      const ghostHits = origin.hits.get('/bytes/100/ghost') ?? 0;
      await expect(harness.download(byId.get('ghost')!)).rejects.toMatchObject({ type: 'handler', nonRetryable: true });
      expect(origin.hits.get('/bytes/100/ghost') ?? 0).toBe(ghostHits); // refused before any request
    } finally {
      await harness.close();
    }
  });
});
