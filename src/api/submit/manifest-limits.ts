import type { Config } from '../../config/config-schema.js';

/** The configured manifest limits the API checks before it looks at any resource. */
export type ManifestLimits = Pick<Config['limits'], 'maxResourcesPerJob' | 'maxMetadataBytes'>;

/** The defaults of `limits.*`, for an app built without configuration (tests, embedding). */
export const DEFAULT_MANIFEST_LIMITS: ManifestLimits = { maxResourcesPerJob: 100_000, maxMetadataBytes: 64 * 1024 };

/** Fixed bounds of a manifest, whatever the configuration. */
export const ManifestBounds = {
  /** The highest `limits.maxResourcesPerJob` accepts: the schema's own ceiling on `resources`. */
  maxResources: 1_000_000,
  /** `metadata` may nest at most this deep (objects and arrays), so no walk over it can overflow the stack. */
  maxMetadataDepth: 64,
} as const;

/** One entry of a 400's `details`. */
export interface ManifestIssue {
  path: string;
  message: string;
}

/** Whether a value is a JSON object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Why `metadata` is refused, or undefined. Walks the value without recursion (a body of 100,000
 * nested arrays parses fine but would overflow any recursive walk), then measures its JSON.
 */
export function metadataProblem(metadata: unknown, maxBytes: number): string | undefined {
  if (!isPlainObject(metadata)) return undefined; // the schema names the type
  const stack: [unknown, number][] = [[metadata, 1]];
  let lowerBound = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value === 'string') lowerBound += value.length + 2;
    if (typeof value !== 'object' || value === null) {
      lowerBound += 1;
    } else {
      if (depth > ManifestBounds.maxMetadataDepth) return `nests deeper than ${ManifestBounds.maxMetadataDepth} levels`;
      for (const [key, child] of Object.entries(value)) {
        lowerBound += Array.isArray(value) ? 1 : key.length + 3;
        stack.push([child, depth + 1]);
      }
    }
    if (lowerBound > maxBytes) return `is larger than ${maxBytes} bytes as JSON`;
  }
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  return bytes > maxBytes ? `is ${bytes} bytes as JSON; at most ${maxBytes}` : undefined;
}

/**
 * The configured limits a manifest exceeds, checked on the parsed body before any element is
 * validated: a flood of resources is refused with one issue in constant time, and oversized or
 * deeply nested metadata never reaches code that recurses over it.
 */
export function manifestLimitIssues(body: unknown, limits: ManifestLimits): ManifestIssue[] {
  if (!isPlainObject(body)) return [];
  const issues: ManifestIssue[] = [];
  const { resources, metadata } = body;
  if (Array.isArray(resources) && resources.length > limits.maxResourcesPerJob) {
    issues.push({ path: 'resources', message: `${resources.length} resources; the limit is ${limits.maxResourcesPerJob}` });
  }
  const problem = metadataProblem(metadata, limits.maxMetadataBytes);
  if (problem !== undefined) issues.push({ path: 'metadata', message: `metadata ${problem}` });
  return issues;
}
