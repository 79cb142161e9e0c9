import { InvalidKeyError } from './errors.js';

/**
 * Key segments starting with this (in any case) belong to FetchBox: the staging area
 * `<jobId>/.fetchbox/<hash>/...`, the file driver's `.fetchbox-meta/` and `.fetchbox-tmp/`. No
 * manifest key, job id or handler-produced key may use one, so nothing a crawler sends can
 * overwrite staged pages, forge object metadata or write into the temp area.
 */
export const RESERVED_SEGMENT_PREFIX = '.fetchbox';

/**
 * Why a key is unusable, or undefined when it is fine. Keys are `/`-separated relative paths: no
 * leading slash, no empty, `.` or `..` segment, no backslash or control character, at most 1024
 * bytes. Both drivers refuse such keys for every read and write, so the rule lives here once.
 */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'empty';
  if (Buffer.byteLength(key) > 1024) return 'longer than 1024 bytes';
  if (key.startsWith('/')) return 'starts with /';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(key)) return 'contains a control character or backslash';
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') return `has a "${segment}" segment`;
  }
  return undefined;
}

/**
 * Whether one key segment lies in FetchBox's reserved area. Compared after Unicode compatibility
 * folding and in any case, because macOS and Windows file systems fold case (`.FetchBox-meta` is
 * the same folder as `.fetchbox-meta` there).
 */
export function isReservedSegment(segment: string): boolean {
  // Fast path (runs for every segment of every key): NFKC and case folding leave a leading ASCII
  // character other than '.' unchanged, so such a segment cannot fold into the reserved prefix.
  const first = segment.charCodeAt(0);
  if (first < 0x80 && first !== 0x2e) return false;
  const folded = segment.normalize('NFKC');
  return folded.toLowerCase().startsWith(RESERVED_SEGMENT_PREFIX) || folded.toUpperCase().startsWith(RESERVED_SEGMENT_PREFIX.toUpperCase());
}

/**
 * Why a key may not name a user object, or undefined when it may: {@link keyProblem}, plus no
 * segment in the reserved area. The one rule for manifest keys (API), handler-produced keys
 * (download activity) and the drivers' `put`; FetchBox's own documents go through `putJson`.
 */
export function userKeyProblem(key: string): string | undefined {
  const problem = keyProblem(key);
  if (problem !== undefined) return problem;
  const reserved = key.split('/').find(isReservedSegment);
  return reserved === undefined
    ? undefined
    : `has a "${reserved}" segment: segments starting with "${RESERVED_SEGMENT_PREFIX}" are reserved for FetchBox`;
}

/**
 * The key of a job's manifest document beside its objects (`publishManifest` writes it): the
 * contract's "metadata stored next to the job's objects as manifest.json".
 */
export function manifestDocumentKey(jobId: string): string {
  return `${jobId}/manifest.json`;
}

/**
 * Why a key may not name an object of job `jobId`, or undefined when it may: {@link userKeyProblem},
 * plus not the job's own manifest document, which FetchBox writes (a resource there would replace
 * the job's metadata). The API checks manifest keys with it, the download activity every task's key.
 */
export function jobKeyProblem(jobId: string, key: string): string | undefined {
  const problem = userKeyProblem(key);
  if (problem !== undefined) return problem;
  return key === manifestDocumentKey(jobId) ? "is the job's manifest document (its metadata), which FetchBox writes" : undefined;
}

/**
 * Why a job id may not be used, or undefined when it may. A job id is the first segment of every
 * key of its job, so it follows {@link userKeyProblem} as one segment; ids made only of dots are
 * refused too (`.`/`..` are path steps, and Windows file systems drop trailing dots).
 */
export function jobIdProblem(jobId: string): string | undefined {
  if (/^\.+$/.test(jobId)) return 'may not consist only of dots';
  if (jobId.includes('/')) return 'may not contain /';
  return userKeyProblem(jobId);
}

/** Throws InvalidKeyError for a key that {@link keyProblem} refuses. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(key, problem);
}

/** Throws InvalidKeyError for a key that {@link userKeyProblem} refuses (user objects only). */
export function assertUserKey(key: string): void {
  const problem = userKeyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(key, problem);
}

/** Joins a storage prefix and a key with exactly one `/`. */
export function joinKey(prefix: string, key: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return p === '' ? key : `${p}/${key}`;
}
