import type { Config } from '../../config/config-schema.js';
import { NotifyEvent } from '../../workflows/constants.js';
import type { JobNotify } from '../../workflows/notify-types.js';
import { issuesError, ErrorCode } from '../api-error.js';
import type { Manifest } from '../schemas.js';

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
