import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** Folder under the root that holds object metadata, one JSON file per object body (reserved area). */
export const METADATA_DIR = '.fetchbox-metadata';

/** Where versions before the one-rename commit kept metadata, as `<key>.json` (read, never written). */
export const LEGACY_META_DIR = '.fetchbox-meta';

/** The longest key segment the file driver can commit: a file or folder name (Linux NAME_MAX, in bytes). */
export const MAX_FILE_SEGMENT_BYTES = 255;

/**
 * Where the metadata of the body with inode `ino` at `key` lives:
 * `<root>/.fetchbox-metadata/<h0h1>/<sha256(key)>-<ino>.json`. Naming the file by the body's inode is
 * what makes a commit one rename: the metadata of a new body is written first under a name no
 * reader looks for, and becomes the object's metadata at the instant the body is renamed over the
 * key (a rename keeps the inode). A reader stats the body, then reads the metadata of that inode,
 * so it sees the old pair or the new pair, never one body with another's metadata. The name is a
 * hash, so any key that fits the body tree fits here (no NAME_MAX or file-beside-folder clash).
 */
export function metadataPath(root: string, key: string, ino: bigint): string {
  const digest = createHash('sha256').update(key).digest('hex');
  return path.join(root, METADATA_DIR, digest.slice(0, 2), `${digest}-${ino}.json`);
}

/**
 * Where versions before the one-rename commit kept an object's metadata (`<key>.json`), read
 * only for bodies that have no metadata under {@link metadataPath} (written before the upgrade)
 * and removed when the key is written again. A separate folder: no user key can name a file of
 * the current layout through it (its first segment would start with `.fetchbox`).
 */
export function legacyMetadataPath(root: string, key: string): string {
  return path.join(root, LEGACY_META_DIR, `${key}.json`);
}

/** A body as {@link readObjectMetadata} found it: its stat and the metadata recorded for exactly it. */
export interface FoundObject {
  bytes: number;
  mtime: Date;
  metadata: Record<string, string>;
}

/**
 * The body at `file` and its metadata, or undefined when there is no body. A writer may replace the
 * body (and remove the old metadata) between the stat and the read: the read is retried with the
 * new inode, so the answer is one consistent pair. A body without metadata of its own (left by a
 * version before this one, whose `<key>.json` is then used) reads as `{}`: present, unverified.
 */
export async function readObjectMetadata(root: string, key: string, file: string): Promise<FoundObject | undefined> {
  for (let tries = 0; ; tries++) {
    const info = await stat(file, { bigint: true }).catch(() => undefined);
    if (!info || !info.isFile()) return undefined;
    const found = (metadata: Record<string, string>): FoundObject => ({ bytes: Number(info.size), mtime: info.mtime, metadata });
    const own = await readJson(metadataPath(root, key, info.ino));
    if (own !== undefined) return found(own);
    const again = await stat(file, { bigint: true }).catch(() => undefined);
    if (again && again.ino !== info.ino && tries < 3) continue; // replaced meanwhile: read the new pair
    return found((await readJson(legacyMetadataPath(root, key))) ?? {});
  }
}

async function readJson(file: string): Promise<Record<string, string> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, string>) : undefined;
  } catch {
    return undefined; // absent, or a name too long for the file system (legacy path of a long key)
  }
}
