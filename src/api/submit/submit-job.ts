import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { handlerSettings, resolvePolicy } from '../../handlers/policy.js';
import { jobWorkflowId, WorkflowTypes } from '../../model/ids.js';
import type { jobWorkflow } from '../../workflows/job-workflow.js';
import { JobStatus, NotifyEvent, NotifyStatus } from '../../model/constants.js';
import { type JobMemo, type JobWorkflowInput } from '../../model/job-types.js';
import { SearchAttributes } from '../../model/search-attributes.js';
import { ApiError, ErrorCode, issuesError } from '../api-error.js';
import type { Manifest } from './manifest-schema.js';
import { applyManifestStore, checkManifest, submitKeyOf } from './check-manifest.js';
import type { JobContext } from '../jobs/job-context.js';
import { startPriority } from './job-priority.js';
import { describeJob, statusOf } from '../jobs/job-status.js';
import type { SubmitResult } from '../jobs/job-views.js';
import { manifestHash } from './manifest-hash.js';
import { jobPath, temporalUiUrlOf } from '../job-path.js';
import { runsInline, stageManifest } from './staging.js';
import type { Config } from '../../config/config-schema.js';
import type { JobNotify } from '../../model/notify-types.js';

/**
 * Validates a manifest, stages it and starts the job's workflow. Idempotent by jobId: the same
 * manifest again answers `created: false`, a different one under the same jobId 409 job_conflict
 * (told apart by the manifest hash kept in the workflow memo). `submitter` (the client's identity,
 * client-identity.ts) is the job's fairness key.
 */
export async function submitJob(ctx: JobContext, manifest: Manifest, submitter: string): Promise<SubmitResult> {
  const { config, handlers, storage, client } = ctx.deps;
  const jobId = manifest.jobId ?? randomUUID();
  // Keys as the worker will make them (one-to-one handlers), so a key used twice is a 400 here.
  const keyOf = handlers.has(manifest.handler)
    ? submitKeyOf(handlers.get(manifest.handler), {
        jobId,
        handler: manifest.handler,
        metadata: manifest.metadata ?? {},
        settings: handlerSettings(config, manifest.handler),
      })
    : undefined;
  const resources = checkManifest(manifest, handlers, config.limits, keyOf);
  const handler = handlers.get(manifest.handler);
  // The job's store is fixed here: a store the manifest may not name is a 400 before anything is staged.
  const policy = applyManifestStore(config, handler, manifest, resolvePolicy(config, handler));
  const notify = jobNotifyOf(config, manifest, { self: jobPath(jobId), temporalUi: temporalUiUrlOf(config.temporal, jobId) });
  const hash = manifestHash(manifest.handler, manifest.metadata, resources, manifest.store, manifest.priority, notifyIdentity(manifest));
  const staged = await stageManifest({
    storage,
    handlers,
    pageSize: config.job.pageSize,
    jobId,
    manifest,
    resources,
    hash,
    store: policy.store,
  });
  const submittedAt = new Date().toISOString();
  const input: JobWorkflowInput = {
    jobId,
    handler: manifest.handler,
    manifest: staged,
    policy,
    submittedAt,
    maxTasks: config.limits.maxResourcesPerJob,
    ...(runsInline(staged, handler, policy, config.job.inlineMaxResources) ? { inlineRun: true as const } : {}),
    ...(notify ? { notify } : {}),
  };
  const memo: JobMemo = {
    manifestHash: hash,
    manifestPrefix: staged.prefix,
    pageCount: staged.pageCount,
    startedAt: submittedAt,
    ...(notify ? { notify: { status: NotifyStatus.waiting } } : {}),
  };
  const pages = staged.pageCount;
  try {
    await ctx.temporal(() =>
      client.workflow.start<typeof jobWorkflow>(WorkflowTypes.job, {
        workflowId: jobWorkflowId(jobId),
        taskQueue: config.temporal.taskQueue,
        args: [input],
        memo: { ...memo },
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        priority: startPriority(manifest.priority, submitter, config.api.fairnessWeights),
        typedSearchAttributes: [
          { key: SearchAttributes.handler, value: manifest.handler },
          { key: SearchAttributes.status, value: JobStatus.running },
          { key: SearchAttributes.total, value: resources.length },
          { key: SearchAttributes.succeeded, value: 0 },
          { key: SearchAttributes.failed, value: 0 },
          { key: SearchAttributes.bytes, value: 0 },
        ],
        staticSummary: `${manifest.handler} job ${jobId}: ${resources.length} resource${resources.length === 1 ? '' : 's'} in ${pages} page${pages === 1 ? '' : 's'}`,
      }),
    );
    return { jobId, created: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      const existing = await describeJob(ctx, jobId);
      if ((existing.memo as Partial<JobMemo> | undefined)?.manifestHash === hash)
        return { jobId, created: false, status: statusOf(existing) };
      throw new ApiError(409, ErrorCode.jobConflict, `job ${jobId} exists with a different manifest`, { jobId });
    }
    throw err;
  }
}

/** Every event, in the contract's order: what a `notify` without `events` (and the configured default) reports. */
const ALL_EVENTS: readonly NotifyEvent[] = Object.values(NotifyEvent);

/** A manifest's `notify` as it counts for the job's identity: events defaulted and in a fixed order. Undefined without `notify`. */
export function notifyIdentity(manifest: Pick<Manifest, 'notify'>): { url: string; events: NotifyEvent[] } | undefined {
  const { notify } = manifest;
  if (notify === undefined) return undefined;
  const wanted = new Set(notify.events ?? ALL_EVENTS);
  return { url: notify.url, events: ALL_EVENTS.filter((e) => wanted.has(e)) };
}

/**
 * The webhook a new job gets: the manifest's `notify`, else `webhooks.defaultUrl` (all events),
 * with the delivery policy in force now and the job's links. A manifest with `notify` on a server
 * without `FETCHBOX_WEBHOOK_SECRET` is a 400 (nothing could sign it), never a job whose webhook
 * cannot be delivered.
 */
export function jobNotifyOf(
  config: Config,
  manifest: Pick<Manifest, 'notify'>,
  links: { self: string; temporalUi: string },
): JobNotify | undefined {
  const { webhooks } = config;
  if (manifest.notify !== undefined && webhooks.secret === undefined) {
    throw issuesError(ErrorCode.invalidManifest, 'completion webhooks are not configured on this server', [
      {
        path: 'notify',
        message: 'this server has no FETCHBOX_WEBHOOK_SECRET to sign webhooks with; ask its operator, or leave notify out',
      },
    ]);
  }
  const wanted = notifyIdentity(manifest) ?? (webhooks.defaultUrl ? { url: webhooks.defaultUrl, events: [...ALL_EVENTS] } : undefined);
  if (wanted === undefined) return undefined;
  return { ...wanted, timeoutMs: webhooks.timeoutMs, retryForMs: webhooks.retryWindow, links };
}
