import type { z } from 'zod';

/** One validation problem as the API reports it: a path (array form) and a message. */
export interface PathIssue {
  path: PropertyKey[];
  message: string;
}

/**
 * A zod issue as the issues a `400`'s `details` lists: an unknown field becomes one issue per
 * field, at that field's own path (`resouces`, `resources.0.ur`), because the contract's
 * `details` lists each bad field path; zod reports them as one issue at the parent's path.
 */
export function issuePaths(issue: z.core.$ZodIssue): PathIssue[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({ path: [...issue.path, key], message: `unknown field ${JSON.stringify(key)}` }));
  }
  return [{ path: issue.path, message: issue.message }];
}
