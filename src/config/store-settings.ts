import { z } from 'zod';

/** The store `FETCHBOX_STORAGE_URL` configures; manifests, staging and jobs without a choice use it. */
export const DEFAULT_STORE = 'default';

/** Longest store name: it travels in tasks and resource states, so the page budget counts it (page-budget.ts). */
export const MAX_STORE_NAME_CHARS = 32;

/** A store name as configuration, handler policies and manifests give it: `default` or a configured name. */
export const storeNameSchema = z
  .string()
  .regex(
    new RegExp(`^[a-z][a-z0-9_-]{0,${MAX_STORE_NAME_CHARS - 1}}$`),
    `store names are 1-${MAX_STORE_NAME_CHARS} lower-case letters, digits, _ and -, starting with a letter`,
  );

/** Accepts `true/false/1/0/yes/no` from env vars and real booleans from config files; absent stays absent. */
const optionalBool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .optional()
  .transform((v) => (v === undefined || typeof v === 'boolean' ? v : v === 'true' || v === '1' || v === 'yes'));

/**
 * A store's URL: `file://<directory>` or `s3://<bucket>/<prefix>`. Checked at load, so a bad
 * scheme stops the process as any invalid setting does (store-registry.ts checks the rest).
 */
export const storageUrlSchema = z.string().regex(/^(file|s3):\/\/./, 'use file://<directory> or s3://<bucket>/<prefix>');

/**
 * One named store. S3 settings left out are taken from `storage.s3` (endpoint, region, path style,
 * part size, queue size); credentials are the store's own, or the standard AWS chain when it has none.
 */
const namedStoreValueSchema = z.strictObject({
  url: storageUrlSchema,
  s3: z
    .strictObject({
      endpoint: z.string().url().optional(),
      region: z.string().min(1).optional(),
      forcePathStyle: optionalBool,
      partSizeBytes: z.coerce
        .number()
        .int()
        .min(5 * 1024 * 1024)
        .optional(),
      queueSize: z.coerce.number().int().min(1).max(16).optional(),
      accessKeyId: z.string().min(1).optional(),
      secretAccessKey: z.string().min(1).optional(),
    })
    .refine((s3) => (s3.accessKeyId === undefined) === (s3.secretAccessKey === undefined), {
      message: 'accessKeyId and secretAccessKey are given together or not at all',
      path: ['accessKeyId'],
    })
    .prefault({}),
});

/**
 * `storage.stores`: named stores by name. Names follow {@link storeNameSchema}; `default` is
 * `storage.url` (FETCHBOX_STORAGE_URL), never redefined. Checked here so the message names the store.
 */
export const namedStoresSchema = z
  .record(z.string(), namedStoreValueSchema)
  .default({})
  .superRefine((stores, ctx) => {
    for (const name of Object.keys(stores)) {
      const parsed = storeNameSchema.safeParse(name);
      if (!parsed.success) ctx.addIssue({ code: 'custom', path: [name], message: parsed.error.issues[0]!.message });
      else if (name === DEFAULT_STORE)
        ctx.addIssue({
          code: 'custom',
          path: [name],
          message: 'the default store is storage.url (FETCHBOX_STORAGE_URL); name this one differently',
        });
    }
  });

/** One named store's settings, parsed. */
export type NamedStoreSettings = z.infer<typeof namedStoreValueSchema>;

/** Suffix of a `FETCHBOX_STORE_<NAME>_<SUFFIX>` variable → path under `storage.stores.<name>`. */
export const STORE_ENV_SUFFIXES = {
  URL: 'url',
  S3_ENDPOINT: 's3.endpoint',
  S3_REGION: 's3.region',
  S3_FORCE_PATH_STYLE: 's3.forcePathStyle',
  S3_PART_SIZE_BYTES: 's3.partSizeBytes',
  S3_QUEUE_SIZE: 's3.queueSize',
  S3_ACCESS_KEY_ID: 's3.accessKeyId',
  S3_SECRET_ACCESS_KEY: 's3.secretAccessKey',
} as const;

const STORE_ENV = new RegExp(`^FETCHBOX_STORE_([A-Z][A-Z0-9_]*?)_(${Object.keys(STORE_ENV_SUFFIXES).join('|')})$`);

/**
 * The config paths `FETCHBOX_STORE_<NAME>_<SUFFIX>` variables set, as `[dotted path, value]`:
 * `<NAME>` lower-cased is the store's name, so credentials can live only in the environment.
 */
export function storeEnvSettings(env: NodeJS.ProcessEnv): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(env)) {
    const m = STORE_ENV.exec(name);
    if (!m || value === undefined || value === '') continue;
    const suffix = m[2] as keyof typeof STORE_ENV_SUFFIXES;
    out.push([`storage.stores.${m[1]!.toLowerCase()}.${STORE_ENV_SUFFIXES[suffix]}`, value]);
  }
  return out;
}

/** The variable that sets a `storage.stores.<name>.…` path, for error messages; undefined for other paths. */
export function storeEnvNameFor(dotted: string): string | undefined {
  const m = /^storage\.stores\.([^.]+)\.(.+)$/.exec(dotted);
  if (!m) return undefined;
  const suffix = Object.entries(STORE_ENV_SUFFIXES).find(([, p]) => p === m[2])?.[0];
  return suffix === undefined ? undefined : `FETCHBOX_STORE_${m[1]!.toUpperCase().replace(/-/g, '_')}_${suffix}`;
}

/**
 * Store names `handlers.<name>.policy` gives (`store`, `allowedStores`) that the configuration does
 * not declare, as `[setting, message]`: checked at load, so a process never starts with one.
 */
export function unknownPolicyStores(
  handlers: Record<string, { policy: { store?: string | undefined; allowedStores?: string[] | undefined } }>,
  declared: readonly string[],
  setting: (handler: string, field: 'store' | 'allowedStores') => string = (handler, field) => `handlers.${handler}.policy.${field}`,
): { setting: string; message: string }[] {
  const known = new Set([DEFAULT_STORE, ...declared]);
  const issues: { setting: string; message: string }[] = [];
  const listed = [...known].map((n) => JSON.stringify(n)).join(', ');
  for (const [handler, { policy }] of Object.entries(handlers)) {
    if (policy.store !== undefined && !known.has(policy.store)) {
      issues.push({
        setting: setting(handler, 'store'),
        message: `store ${JSON.stringify(policy.store)} is not configured (known: ${listed})`,
      });
    }
    for (const name of policy.allowedStores ?? []) {
      if (!known.has(name))
        issues.push({
          setting: setting(handler, 'allowedStores'),
          message: `store ${JSON.stringify(name)} is not configured (known: ${listed})`,
        });
    }
  }
  return issues;
}
