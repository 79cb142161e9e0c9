import { createHash } from 'node:crypto';
import type { Storage } from '../../src/storage/storage.js';

/** sha256 and size of a stored object, read back through the driver. */
export async function readBack(storage: Storage, key: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of await storage.get(key)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}
