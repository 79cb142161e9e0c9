import { manifestDocumentKey } from '../storage/keys.js';
import type { Storage } from '../storage/storage.js';
import type { InlineManifest } from '../workflows/job-types.js';

/** What publishing a job's manifest needs: where it was staged, and an inline manifest with its page key. */
export interface PublishInput {
  jobId: string;
  manifestKey: string;
  submittedAt: string;
  inline?: InlineManifest;
  pageKey?: string;
}

/**
 * Copies the staged manifest document to `<jobId>/manifest.json` with its submit time; an inline
 * manifest is staged first (page and document), all three writes at once. Shared by
 * `publishManifest` and `downloadInline`.
 */
export async function publishManifestDocument(storage: Storage, input: PublishInput): Promise<void> {
  const { inline, pageKey } = input;
  if (inline && pageKey) {
    await Promise.all([
      storage.putJson(pageKey, inline.resources),
      storage.putJson(input.manifestKey, inline.document),
      storage.putJson(manifestDocumentKey(input.jobId), { ...inline.document, submittedAt: input.submittedAt }),
    ]);
    return;
  }
  const staged = await storage.getJson<Record<string, unknown>>(input.manifestKey);
  await storage.putJson(manifestDocumentKey(input.jobId), { ...staged, submittedAt: input.submittedAt });
}
