import type { Client } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import type { Logger } from 'pino';
import { SearchAttributes } from '../workflows/search-attributes.js';

/** Proto enum values of IndexedValueType for the types FetchBox uses. */
const INDEXED_VALUE_TYPE: Record<string, number> = {
  [SearchAttributeType.KEYWORD]: 2,
  [SearchAttributeType.INT]: 3,
  [SearchAttributeType.DOUBLE]: 4,
};

/**
 * Registers FetchBox's search attributes in the namespace when they are missing, so a fresh
 * self-hosted cluster works without a manual `temporal operator search-attribute create`. Where
 * the operator API is not allowed (Temporal Cloud, restricted roles) it logs what to create.
 */
export async function ensureSearchAttributes(client: Client, namespace: string, logger: Logger): Promise<void> {
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
    logger.info({ added: missing.map((k) => k.name), namespace }, 'registered FetchBox search attributes');
  } catch (err) {
    logger.warn(
      { err, namespace, needed: wanted.map((k) => `${k.name}=${k.type}`) },
      'could not check or register search attributes; create them with `temporal operator search-attribute create` (docs/deployment.md)',
    );
  }
}
