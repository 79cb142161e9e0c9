import type { Config } from '../../config/config-schema.js';
import { DEFAULT_STORE } from '../../config/store-settings.js';
import type { Handler } from '../../handlers/handler.js';
import { allowedStores } from '../../handlers/policy.js';
import type { JobPolicy } from '../../workflows/job-types.js';
import { ErrorCode, issuesError } from '../api-error.js';
import type { Manifest } from '../schemas.js';

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
