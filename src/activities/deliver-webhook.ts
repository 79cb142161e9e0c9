import { ApplicationFailure, Context } from '@temporalio/activity';
import { Webhook } from 'standardwebhooks';
import type { Config } from '../config/config-schema.js';
import { FetchFailure } from '../fetch/errors.js';
import { postWebhook } from '../fetch/webhook-post.js';
import type { DeliverWebhookInput, DeliverWebhookResult, WebhookFailureDetails } from '../model/notify-types.js';

/** A webhook body is a job summary (a few hundred bytes); anything near this is a bug, not a receiver's problem. */
export const MAX_WEBHOOK_BODY_BYTES = 64 * 1024;

/** The ApplicationFailure types a delivery attempt fails with (the Temporal UI shows them on the activity). */
export const WebhookFailure = {
  notConfigured: 'webhook_not_configured',
  gone: 'webhook_gone',
  httpStatus: 'webhook_http_status',
  tooLarge: 'webhook_too_large',
} as const;

/** What the `deliverWebhook` activity needs from the worker's configuration. */
export interface WebhookDeps {
  /** `FETCHBOX_WEBHOOK_SECRET` (`whsec_<base64>`); a worker without one fails its attempts, retryably. */
  secret?: string;
  fetch: Pick<Config['fetch'], 'allowCidrs' | 'connectTimeoutMs' | 'userAgent'>;
}

function failure(
  type: string,
  message: string,
  attempt: number,
  nonRetryable: boolean,
  extra: { httpStatus?: number; retryAfterMs?: number } = {},
) {
  const details: WebhookFailureDetails = { attempt, ...(extra.httpStatus !== undefined ? { httpStatus: extra.httpStatus } : {}) };
  return ApplicationFailure.create({
    type,
    message,
    nonRetryable,
    details: [details],
    ...(!nonRetryable && extra.retryAfterMs !== undefined ? { nextRetryDelay: extra.retryAfterMs } : {}),
  });
}

/**
 * One attempt at a completion webhook, per the Standard Webhooks specification: the body as JSON,
 * `webhook-id` (the same on every attempt), `webhook-timestamp` (this attempt's, in seconds) and
 * `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`, standardwebhooks' `sign`).
 * Any 2xx is delivered; 410 Gone and a refused address give up at once; every other answer or
 * error is retried by Temporal (a 429's or 503's Retry-After honoured) until the job's window ends.
 */
export async function deliverWebhook(deps: WebhookDeps, input: DeliverWebhookInput): Promise<DeliverWebhookResult> {
  const { attempt } = Context.current().info;
  if (!deps.secret) {
    throw failure(
      WebhookFailure.notConfigured,
      'this worker has no FETCHBOX_WEBHOOK_SECRET; set it to deliver completion webhooks',
      attempt,
      false,
    );
  }
  const body = JSON.stringify(input.body);
  if (Buffer.byteLength(body) > MAX_WEBHOOK_BODY_BYTES) {
    throw failure(
      WebhookFailure.tooLarge,
      `webhook body of ${Buffer.byteLength(body)} bytes exceeds ${MAX_WEBHOOK_BODY_BYTES}`,
      attempt,
      true,
    );
  }
  const now = new Date();
  const headers = {
    'content-type': 'application/json',
    'webhook-id': input.webhookId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(deps.secret).sign(input.webhookId, now, body),
  };
  let answer;
  try {
    answer = await postWebhook({ url: input.url, headers, body, timeoutMs: input.timeoutMs }, deps.fetch);
  } catch (err) {
    if (err instanceof FetchFailure) throw failure(err.kind, err.message, attempt, !err.retryable);
    throw err;
  }
  const origin = new URL(input.url).origin;
  if (answer.status >= 200 && answer.status < 300) return { attempts: attempt, httpStatus: answer.status };
  if (answer.status === 410) {
    throw failure(WebhookFailure.gone, `HTTP 410 Gone from ${origin}: the receiver asked for no more deliveries`, attempt, true, {
      httpStatus: 410,
    });
  }
  throw failure(WebhookFailure.httpStatus, `HTTP ${answer.status} from ${origin}`, attempt, false, {
    httpStatus: answer.status,
    ...(answer.retryAfterMs !== undefined ? { retryAfterMs: answer.retryAfterMs } : {}),
  });
}
