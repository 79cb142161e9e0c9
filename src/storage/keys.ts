import { InvalidKeyError } from './errors.js';

/**
 * Why a key is unusable, or undefined when it is fine. Keys are `/`-separated relative paths: no
 * leading slash, no empty, `.` or `..` segment, no backslash or control character, at most 1024
 * bytes. The API uses this to answer 400 and both drivers to refuse, so the rule lives here once.
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

/** Throws InvalidKeyError for a key that {@link keyProblem} refuses. */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem !== undefined) throw new InvalidKeyError(key, problem);
}

/** Joins a storage prefix and a key with exactly one `/`. */
export function joinKey(prefix: string, key: string): string {
  const p = prefix.replace(/^\/+|\/+$/g, '');
  return p === '' ? key : `${p}/${key}`;
}
