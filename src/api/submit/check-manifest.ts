import { defaultStorageKey, type Handler, type HandlerContext } from '../../handlers/handler.js';
import type { HandlerRegistry } from '../../handlers/registry.js';
import { jobIdProblem, manifestDocumentKey } from '../../storage/keys.js';
import type { JobPolicy, ManifestResource } from '../../model/job-types.js';
import { ApiError, ErrorCode, issuesError } from '../api-error.js';
import { manifestLimitIssues, type ManifestLimits } from './manifest-limits.js';
import type { Manifest } from './manifest-schema.js';
import type { Config } from '../../config/config-schema.js';
import { DEFAULT_STORE } from '../../config/store-settings.js';
import { allowedStores } from '../../handlers/policy.js';

/**
 * The storage key each resource's task will have, where the API can know it: for a handler that
 * maps resources one to one (no `expand`), its `storageKey` hook (given the manifest's metadata and
 * the handler's settings) or else the manifest key or the default key. Undefined for an expanding
 * handler (its tasks exist only in the worker, which refuses a key used twice in a job) and for a
 * resource whose `storageKey` throws (the worker fails it with `handler`).
 */
export type SubmitKeyOf = (resource: ManifestResource) => string | undefined;

/** Builds the {@link SubmitKeyOf} of a job's handler. */
export function submitKeyOf(handler: Handler, ctx: Pick<HandlerContext, 'jobId' | 'handler' | 'metadata' | 'settings'>): SubmitKeyOf {
  if (handler.expand) return () => undefined;
  if (!handler.storageKey) return (r) => defaultStorageKey(r, ctx);
  const storageKey = handler.storageKey.bind(handler);
  const context: HandlerContext = {
    ...ctx,
    fetchText: () => Promise.reject(new Error('fetchText is not available to storageKey at submit')),
  };
  return (r) => {
    try {
      return storageKey(r, context);
    } catch {
      return undefined;
    }
  };
}

/**
 * Checks what zod cannot (a known handler, the configured limits, a usable jobId, unique
 * resource ids, no key naming the job's manifest document, no storage key used by two resources)
 * and returns the resources with their default ids assigned. Throws the API's 400 errors, so every
 * caller of submit gets the same answers as the HTTP route. `keyOf` gives the keys to compare
 * ({@link submitKeyOf}); without it only the manifest's own `key` fields are compared.
 */
export function checkManifest(
  manifest: Manifest,
  handlers: HandlerRegistry,
  limits: ManifestLimits,
  keyOf: SubmitKeyOf = (r) => r.key,
): ManifestResource[] {
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
  const duplicateIds = new Set<number>();
  const resources: ManifestResource[] = manifest.resources.map((r, i) => {
    const id = r.id ?? String(i);
    if (seen.has(id)) {
      problems.push({ path: `resources.${i}.id`, message: `duplicate id ${JSON.stringify(id)}` });
      duplicateIds.add(i);
    }
    seen.add(id);
    if (r.key !== undefined && r.key === documentKey) {
      problems.push({
        path: `resources.${i}.key`,
        message: `storage key ${JSON.stringify(r.key)} is the job's manifest document (its metadata)`,
      });
    }
    return { id, url: r.url, ...(r.key !== undefined ? { key: r.key } : {}), ...(r.headers ? { headers: r.headers } : {}) };
  });
  // One object per key: a key two resources share would hold one body under two records.
  const keyHolders = new Map<string, number>();
  const keyPath = (i: number) => (manifest.resources[i]!.key !== undefined ? `resources.${i}.key` : `resources.${i}`);
  let keyProblems = 0;
  for (const [i, r] of resources.entries()) {
    // A duplicate id is named already (its default key repeats as a consequence).
    const key = duplicateIds.has(i) ? undefined : keyOf(r);
    if (key === undefined) continue;
    const first = keyHolders.get(key);
    if (first === undefined) keyHolders.set(key, i);
    else {
      keyProblems++;
      problems.push({ path: keyPath(i), message: `storage key ${JSON.stringify(key)} is also the key of ${keyPath(first)}` });
    }
  }
  if (problems.length > 0) {
    const onlyIds = problems.every((p) => p.path.endsWith('.id'));
    throw issuesError(
      ErrorCode.invalidManifest,
      onlyIds
        ? 'resource ids must be unique'
        : keyProblems === problems.length
          ? 'two resources may not have the same storage key'
          : 'resource ids and storage keys must be unique, and keys may not name the manifest document',
      problems,
    );
  }
  return resources;
}

/**
 * The policy a job runs under with the manifest's `store` applied. A manifest may name only a
 * configured store its handler allows (`policy.allowedStores`), or the store the job would use
 * anyway; anything else is `400 invalid_manifest` at submit, never a failure mid-job. The answer
 * lists only the stores this handler allows, not every configured one.
 */
export function applyManifestStore(config: Config, handler: Handler, manifest: Pick<Manifest, 'store'>, policy: JobPolicy): JobPolicy {
  const wanted = manifest.store;
  const current = policy.store ?? DEFAULT_STORE;
  if (wanted === undefined || wanted === current) return policy;
  const allowed = allowedStores(config, handler);
  const configured = wanted === DEFAULT_STORE || wanted in config.storage.stores;
  if (!configured || !allowed.includes(wanted)) {
    const listed = allowed.length === 0 ? 'none' : allowed.map((s) => JSON.stringify(s)).join(', ');
    const why = configured
      ? `handler ${JSON.stringify(handler.name)} does not allow store ${JSON.stringify(wanted)}`
      : `unknown store ${JSON.stringify(wanted)}`;
    throw issuesError(ErrorCode.invalidManifest, `the manifest names a store it may not use`, [
      { path: 'store', message: `${why}; this handler allows: ${listed}` },
    ]);
  }
  const { store: _, ...rest } = policy;
  return wanted === DEFAULT_STORE ? rest : { ...rest, store: wanted };
}
