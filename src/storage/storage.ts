import type { Readable } from 'node:stream';
import type { ResumableWrites } from './partials.js';

/** What a caller hands to {@link Storage.put}: a body stream and what to record with it. */
export interface PutObjectInput {
  /** Object key relative to the storage root (no leading slash, no `..` segments). */
  key: string;
  /** The body; consumed once, never buffered whole. */
  body: Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
  contentType?: string;
  /** Stored as object metadata (S3 `x-amz-meta-*`, a sidecar for files). */
  metadata?: Record<string, string>;
  /** When known (Content-Length), a body of any other size is refused and nothing is stored. */
  expectedBytes?: number;
  /** A body longer than this is refused and nothing is stored. */
  maxBytes?: number;
  /** Called with the running byte count while the body streams (for heartbeats). */
  onProgress?: (bytes: number) => void;
}

/** What storage verified about an object it committed. */
export interface StoredObject {
  key: string;
  bytes: number;
  sha256: string;
}

/** What storage knows about an object already there. */
export interface ObjectInfo {
  key: string;
  bytes: number;
  metadata: Record<string, string>;
  lastModified?: Date;
}

/**
 * Where bodies end. A driver commits an object only after the whole body arrived, matched
 * `expectedBytes` and stayed under `maxBytes`; a failed put leaves nothing behind, and a put to an
 * existing key replaces it (idempotent re-runs).
 */
export interface Storage {
  /** A URL naming the root, for logs and `/readyz`. */
  readonly url: string;
  put(input: PutObjectInput): Promise<StoredObject>;
  /** Small JSON documents (manifests, pages); written atomically like any object. */
  putJson(key: string, value: unknown): Promise<StoredObject>;
  getJson<T>(key: string): Promise<T>;
  /** Streams an object's body; throws ObjectNotFoundError when it is absent. */
  get(key: string): Promise<Readable>;
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Writes that survive an interrupted body and continue from a checkpoint (file driver only; partials.ts). */
  readonly resumable?: ResumableWrites;
  /** Throws when the storage cannot be reached or written; used by `/readyz` and at start. */
  check(): Promise<void>;
  close(): Promise<void>;
}
