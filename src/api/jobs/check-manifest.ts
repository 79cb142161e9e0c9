import type { HandlerRegistry } from '../../handlers/registry.js';
import { jobIdProblem, manifestDocumentKey } from '../../storage/keys.js';
import type { ManifestResource } from '../../workflows/job-types.js';
import { ApiError, ErrorCode, issuesError } from '../api-error.js';
import { manifestLimitIssues, type ManifestLimits } from '../manifest-limits.js';
import type { Manifest } from '../schemas.js';

/**
 * Checks what zod cannot (a known handler, the configured limits, a usable jobId, unique
 * resource ids, no key naming the job's manifest document) and returns the resources with their default ids assigned. Throws the API's
 * 400 errors, so every caller of submit gets the same answers as the HTTP route.
 */
export function checkManifest(manifest: Manifest, handlers: HandlerRegistry, limits: ManifestLimits): ManifestResource[] {
  if (!handlers.has(manifest.handler)) {
    throw new ApiError(400, ErrorCode.unknownHandler, `unknown handler ${JSON.stringify(manifest.handler)}`, {
      known: handlers.names(),
    });
  }
  // The app checks these before validation too; here they hold for every caller, and they keep
  // metadata shallow and small before canonicalJson (recursive) and the workflow input see it.
  const limitIssues = manifestLimitIssues(manifest, limits);
  const idProblem = manifest.jobId === undefined ? undefined : jobIdProblem(manifest.jobId);
  if (idProblem !== undefined) limitIssues.push({ path: 'jobId', message: `jobId ${idProblem}` });
  if (limitIssues.length > 0) throw issuesError(ErrorCode.invalidManifest, 'the manifest exceeds a limit', limitIssues);
  const seen = new Set<string>();
  const problems: { path: string; message: string }[] = [];
  // A generated jobId is new, so only a given one can have its manifest document named by a key.
  const documentKey = manifest.jobId === undefined ? undefined : manifestDocumentKey(manifest.jobId);
  const resources: ManifestResource[] = manifest.resources.map((r, i) => {
    const id = r.id ?? String(i);
    if (seen.has(id)) problems.push({ path: `resources.${i}.id`, message: `duplicate id ${JSON.stringify(id)}` });
    seen.add(id);
    if (r.key !== undefined && r.key === documentKey) {
      problems.push({
        path: `resources.${i}.key`,
        message: `storage key ${JSON.stringify(r.key)} is the job's manifest document (its metadata)`,
      });
    }
    return { id, url: r.url, ...(r.key !== undefined ? { key: r.key } : {}), ...(r.headers ? { headers: r.headers } : {}) };
  });
  if (problems.length > 0) {
    const onlyIds = problems.every((p) => p.path.endsWith('.id'));
    throw issuesError(
      ErrorCode.invalidManifest,
      onlyIds ? 'resource ids must be unique' : 'resource ids must be unique and keys may not name the manifest document',
      problems,
    );
  }
  return resources;
}
