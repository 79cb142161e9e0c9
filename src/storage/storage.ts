import type { Readable } from 'node:stream';

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

/** What a resumable body is: the whole size, the validator `If-Range` sends, and the URL that served it. */
export interface PartialTarget {
  /** The partial's name: `partialId` of the task (partials.ts). */
  id: string;
  /** The whole body's size (`Content-Length` of the 200, the total of `Content-Range`). */
  total: number;
  /** A strong ETag or a Last-Modified date, as `If-Range` sends it back. */
  validator: string;
  /** The URL (after redirects) whose response started the body; a resumed range must come from it too. */
  url: string;
}

/** A partial an earlier attempt left: its target and how many bytes of it are on disk, synced. */
export interface PartialCheckpoint extends PartialTarget {
  offset: number;
}

/** A resumable put: a fresh body (`from` absent), or the rest of one after `from` stored bytes. */
export type ResumablePut = PutObjectInput & { partial: PartialTarget & { from?: number } };

/** The resumable side of a storage driver (see {@link Storage.resumable}). */
export interface ResumableWrites {
  /** The checkpoint left for `id`, when its synced prefix is still there and not empty. */
  find(id: string): Promise<PartialCheckpoint | undefined>;
  /** Removes the partial of `id` (the body changed, or the origin will not resume it). */
  drop(id: string): Promise<void>;
  /**
   * Like `put`, writing through the partial area: checkpoints while the body streams, keeps the
   * prefix when the body fails short (not when it was refused: over `maxBytes`, longer than
   * promised), and commits the object only when whole. With `from`, the stored prefix of the
   * checkpoint is copied, re-hashed and continued; `expectedBytes` is the whole size.
   */
  put(input: ResumablePut): Promise<StoredObject>;
  /**
   * Bounded clean-up of partials nobody finishes (a worker killed on a resource's last attempt, a
   * canceled job): removes those untouched for `maxAgeMs` and measures the rest. Looks at no more
   * than `maxEntries` entries, after `cursor`; call again with `next` until it is undefined (one pass).
   */
  sweep(options: PartialSweepOptions): Promise<PartialSweep>;
}

/** What one {@link ResumableWrites.sweep} call may do. */
export interface PartialSweepOptions {
  maxAgeMs: number;
  maxEntries: number;
  /** Where the previous call of this pass stopped (its `next`); absent: from the start. */
  cursor?: string | undefined;
  /** The clock, for tests. */
  now?: number;
}

/** What one {@link ResumableWrites.sweep} call did. */
export interface PartialSweep {
  /** Partials removed (too old). */
  removed: number;
  /** Bytes of the partials it looked at and kept (data files; S3: the upload's completed parts). */
  bytes: number;
  /** Where to continue this pass; undefined when the pass reached the end. */
  next?: string | undefined;
}
