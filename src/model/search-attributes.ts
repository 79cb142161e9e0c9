import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Search attributes FetchBox writes on every job workflow, so operators can filter jobs in the
 * Temporal UI (`FetchBoxStatus = "completed_with_failures"`) and `GET /jobs` can list by them.
 * The dev server is started with them; production registers them with `fetchbox worker` at start
 * or `temporal operator search-attribute create`.
 */
export const SearchAttributes = {
  handler: defineSearchAttributeKey('FetchBoxHandler', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('FetchBoxStatus', SearchAttributeType.KEYWORD),
  total: defineSearchAttributeKey('FetchBoxResourcesTotal', SearchAttributeType.INT),
  succeeded: defineSearchAttributeKey('FetchBoxResourcesSucceeded', SearchAttributeType.INT),
  failed: defineSearchAttributeKey('FetchBoxResourcesFailed', SearchAttributeType.INT),
  // DOUBLE, not INT: the dev server's SQLite visibility allows only three INT attributes.
  bytes: defineSearchAttributeKey('FetchBoxBytes', SearchAttributeType.DOUBLE),
} as const;

const flagType: Record<string, string> = {
  [SearchAttributeType.INT]: 'Int',
  [SearchAttributeType.DOUBLE]: 'Double',
  [SearchAttributeType.KEYWORD]: 'Keyword',
};

/** `Name=Type` pairs for `temporal server start-dev --search-attribute`. */
export const searchAttributeFlags: readonly string[] = Object.values(SearchAttributes).map((key) => `${key.name}=${flagType[key.type]}`);
