import type { Client } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import type { Logger } from 'pino';
import { SearchAttributes } from '../model/search-attributes.js';

/** Proto enum values of IndexedValueType for the types FetchBox uses. */
const INDEXED_VALUE_TYPE: Record<string, number> = {
  [SearchAttributeType.KEYWORD]: 2,
  [SearchAttributeType.INT]: 3,
  [SearchAttributeType.DOUBLE]: 4,
};

/** A search attribute's name and type (the SDK's SearchAttributeKey, which its index does not export). */
interface AttributeKey {
  readonly name: string;
  readonly type: SearchAttributeType;
}

/** How long a worker waits, after registering, for the frontend to accept the new attributes. */
export const SEARCH_ATTRIBUTES_READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 100;
/** The workflow id the readiness probe's visibility query names: no such workflow exists. */
const PROBE_WORKFLOW_ID = 'fetchbox-search-attribute-probe';

const FETCHBOX_NAMES = Object.values(SearchAttributes)
  .map((key) => key.name)
  .join('|');
/**
 * What the frontend says while a FetchBox search attribute is not (yet) usable in the namespace:
 * on start (`Namespace default has no mapping defined for search attribute FetchBoxHandler`; `search
 * attribute X is not defined` when never registered) and on visibility queries (SQL: `column name
 * 'X' is not a valid search attribute`; Elasticsearch: `invalid search attribute: X`).
 */
const NOT_REGISTERED = new RegExp(
  `no mapping defined for search attribute '?(?:${FETCHBOX_NAMES})\\b|search attribute '?(?:${FETCHBOX_NAMES})'? is not defined|` +
    `'(?:${FETCHBOX_NAMES})' is not a valid search attribute|invalid search attribute: (?:${FETCHBOX_NAMES})\\b`,
);

/**
 * True when Temporal refused a call because FetchBox's search attributes are not registered, or
 * registered but not yet usable (for up to a second after registering): the error or any error
 * in its `cause` chain (the client wraps the gRPC error in a `ServiceError`) says so. The API
 * answers 503 with Retry-After for it, not 500.
 */
export function isSearchAttributeNotRegistered(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { message, details } = e as { message?: unknown; details?: unknown };
    if ((typeof details === 'string' && NOT_REGISTERED.test(details)) || (typeof message === 'string' && NOT_REGISTERED.test(message)))
      return true;
  }
  return false;
}

/** A visibility query naming each attribute (any match is fine: only whether it is refused counts). */
function probeQuery(keys: readonly AttributeKey[]): string {
  const clauses = keys.map((key) => `${key.name} = ${key.type === SearchAttributeType.KEYWORD ? "''" : '0'}`);
  return `WorkflowId = '${PROBE_WORKFLOW_ID}' AND (${clauses.join(' OR ')})`;
}

/**
 * Whether the namespace lists `keys` and the frontend accepts a query naming them. A visibility
 * query fails with the same "not a valid search attribute" as a start fails with "no mapping" while
 * the new mapping propagates; any other refusal of the probe (a role without list rights) counts
 * as ready, since it cannot tell.
 */
async function usable(client: Client, namespace: string, keys: readonly AttributeKey[]): Promise<boolean> {
  const listed = await client.connection.operatorService.listSearchAttributes({ namespace });
  if (keys.some((key) => !(key.name in (listed.customAttributes ?? {})))) return false;
  try {
    await client.workflowService.countWorkflowExecutions({ namespace, query: probeQuery(keys) });
    return true;
  } catch (err) {
    if (isSearchAttributeNotRegistered(err)) return false;
    return true;
  }
}

/** Polls {@link usable} until it holds or `timeoutMs` passes; returns how long it took, or undefined. */
async function waitUntilUsable(
  client: Client,
  namespace: string,
  keys: readonly AttributeKey[],
  timeoutMs: number,
): Promise<number | undefined> {
  const started = Date.now();
  for (;;) {
    if (await usable(client, namespace, keys)) return Date.now() - started;
    if (Date.now() - started >= timeoutMs) return undefined;
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}

/**
 * Registers FetchBox's search attributes in the namespace when they are missing, so a fresh
 * self-hosted cluster works without a manual `temporal operator search-attribute create`, then
 * waits (at most `readyTimeoutMs`) until the frontend accepts them: right after registering, it
 * refuses workflows that set them for a moment. Where the operator API is not allowed (Temporal
 * Cloud, restricted roles) it logs what to create.
 */
export async function ensureSearchAttributes(
  client: Client,
  namespace: string,
  logger: Logger,
  readyTimeoutMs = SEARCH_ATTRIBUTES_READY_TIMEOUT_MS,
): Promise<void> {
  const wanted = Object.values(SearchAttributes);
  try {
    const existing = await client.connection.operatorService.listSearchAttributes({ namespace });
    const known = new Set([...Object.keys(existing.customAttributes ?? {}), ...Object.keys(existing.systemAttributes ?? {})]);
    const missing = wanted.filter((key) => !known.has(key.name));
    if (missing.length === 0) return;
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_VALUE_TYPE[key.type]!])),
    });
    const readyAfterMs = await waitUntilUsable(client, namespace, missing, readyTimeoutMs);
    if (readyAfterMs === undefined) {
      logger.warn(
        { added: missing.map((k) => k.name), namespace, waitedMs: readyTimeoutMs },
        'registered FetchBox search attributes, but Temporal does not accept them yet; the API answers 503 until it does',
      );
    } else {
      logger.info({ added: missing.map((k) => k.name), namespace, readyAfterMs }, 'registered FetchBox search attributes');
    }
  } catch (err) {
    logger.warn(
      { err, namespace, needed: wanted.map((k) => `${k.name}=${k.type}`) },
      'could not check or register search attributes; create them with `temporal operator search-attribute create` (docs/deployment.md)',
    );
  }
}
