import { z } from 'zod';
import { parseDurationMs } from './duration.js';
import { hostsSchema } from './host-limits.js';
import { fairnessWeightsSchema } from './fairness-weights.js';
import { namedStoresSchema, storageUrlSchema, storeNameSchema } from './store-settings.js';
import { webhooksSchema } from './webhook-settings.js';

/** Milliseconds as a positive integer; config files and env vars both give plain numbers. */
const ms = (defaultValue: number) => z.coerce.number().int().positive().default(defaultValue);

/**
 * A duration string (`7d`, `168h`, `1d12h`, `90m`) between `min` and `max`, as milliseconds.
 * Config files may give the same strings.
 */
const duration = (defaultValue: string, min: string, max: string) =>
  z
    .string()
    .default(defaultValue)
    .transform((text, ctx) => {
      const value = parseDurationMs(text);
      if (value === undefined) {
        ctx.addIssue({ code: 'custom', message: `expected a duration such as 7d, 168h or 1d12h, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      if (value < parseDurationMs(min)! || value > parseDurationMs(max)!) {
        ctx.addIssue({ code: 'custom', message: `must be between ${min} and ${max}, got ${text}` });
        return z.NEVER;
      }
      return value;
    });

/** Accepts `true/false/1/0/yes/no` from env vars and real booleans from config files. */
const bool = (defaultValue: boolean) =>
  z
    .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no', ''])])
    .default(defaultValue)
    .transform((v) => (typeof v === 'boolean' ? v : v === 'true' || v === '1' || v === 'yes'));

/** A comma-separated env string or a real list from a config file. */
const list = () =>
  z
    .union([z.array(z.string()), z.string()])
    .default([])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter((s) => s.length > 0));

/**
 * Retry policy for one resource download. Mirrors Temporal's RetryPolicy so it can be passed
 * through; `maximumAttempts` counts the first try.
 */
export const retryPolicySchema = z.object({
  maximumAttempts: z.coerce.number().int().min(1).max(100).default(5),
  initialIntervalMs: ms(1_000),
  backoffCoefficient: z.coerce.number().min(1).max(10).default(2),
  maximumIntervalMs: ms(60_000),
});

/**
 * A handler policy in the config file (`handlers.<name>.policy`): the job policy's fields, each
 * optional, numbers as the config file gives them.
 */
export const handlerPolicySchema = z
  .object({
    concurrency: z.number().int().min(1).max(1_000),
    pageParallelism: z.number().int().min(1).max(16),
    perHostConcurrency: z.number().int().min(0).max(1_000),
    batchSize: z.number().int().min(1).max(1_000),
    attemptTimeoutMs: z.number().int().positive(),
    heartbeatTimeoutMs: z.number().int().positive(),
    maxBytes: z.number().int().positive(),
    proxyTiers: z.array(z.string()).min(1),
    attemptsPerTier: z.number().int().min(1).max(100),
    retry: retryPolicySchema.partial(),
    skipExisting: z.union([z.literal(false), z.object({ maxAgeMs: z.number().int().min(0).optional() })]),
    revalidate: z.boolean(),
    store: storeNameSchema,
    allowedStores: z.array(storeNameSchema),
  })
  .partial()
  .strict();

/**
 * A handler's own `policy` (its code, loaded by `--handlers`): the same fields, checked without
 * coercion or defaults, so what the handler wrote is what its jobs get.
 */
export const handlerCodePolicySchema = handlerPolicySchema.extend({
  retry: z
    .object({
      maximumAttempts: z.number().int().min(1).max(100),
      initialIntervalMs: z.number().int().positive(),
      backoffCoefficient: z.number().min(1).max(10),
      maximumIntervalMs: z.number().int().positive(),
    })
    .partial()
    .strict()
    .optional(),
});

/**
 * The whole FetchBox configuration. Every setting has a default so `fetchbox dev` runs with none;
 * `docs/configuration.md` lists each one and a test keeps the two in step.
 */
export const configSchema = z.object({
  dataDir: z.string().min(1).default('./data'),
  log: z
    .object({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .prefault({}),
  api: z
    .object({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.coerce.number().int().min(0).max(65_535).default(3000),
      tokens: list(),
      bodyLimitBytes: z.coerce
        .number()
        .int()
        .positive()
        .default(64 * 1024 * 1024),
      /** Submits per second per client (token, or address without auth); 0 = unlimited. */
      submitRate: z.coerce.number().min(0).default(0),
      /** Submits a client may burst at once; 0 = twice the rate. */
      submitBurst: z.coerce.number().int().min(0).default(0),
      /** Serve /metrics without a token even when tokens are configured. */
      metricsPublic: bool(true),
      /** Interval between progress events of GET /jobs/{jobId}/events. */
      eventsIntervalMs: ms(1_000),
      /** How long one request waits on Temporal before answering 503 temporal_unavailable. */
      temporalTimeoutMs: ms(5_000),
      /** GET /failures and GET /jobs/{jobId}/resources calls per second per client (one bucket); 0 = unlimited. */
      listRate: z.coerce.number().min(0).default(10),
      /** Listing calls a client may burst at once. */
      listBurst: z.coerce.number().int().min(1).default(50),
      /** Event streams one client may hold open at once; 0 = unlimited. */
      maxStreamsPerClient: z.coerce.number().int().min(0).default(16),
      /** Time a client has to send a request's headers (slowloris). */
      headersTimeoutMs: ms(10_000),
      /** Time a client has to send a whole request, body included (a 64 MiB manifest at ~220 KB/s). */
      requestTimeoutMs: ms(300_000),
      /** How long an idle keep-alive connection stays open (above a load balancer's idle timeout behind one). */
      keepAliveTimeoutMs: ms(5_000),
      /** Connections the API holds at once (event streams included); more are closed on accept. */
      maxConnections: z.coerce.number().int().positive().default(1024),
      /** How long /readyz reuses a check's result, so probes cannot flood Temporal or storage. */
      readinessCacheMs: z.coerce.number().int().min(0).default(5_000),
      /** The key cursors are signed with (HMAC-SHA256); unset: a random key per process (see docs/security.md). */
      cursorSecret: z.string().min(32, 'at least 32 characters (e.g. openssl rand -base64 32)').optional(),
      /** Fairness weight per client (fairness key), sent with each job's start; unlisted clients weigh 1. */
      fairnessWeights: fairnessWeightsSchema,
    })
    .refine((api) => api.headersTimeoutMs <= api.requestTimeoutMs, {
      message: 'the headers timeout must not exceed the request timeout',
      path: ['headersTimeoutMs'],
    })
    .prefault({}),
  temporal: z
    .object({
      address: z.string().min(1).default('127.0.0.1:7233'),
      namespace: z.string().min(1).default('default'),
      taskQueue: z.string().min(1).default('fetchbox'),
      uiUrl: z.string().url().default('http://127.0.0.1:8233'),
      /**
       * The namespace's retention (how long a closed job's history, and so its retry, is kept), in
       * ms: `fetchbox dev` sets it on its namespace, a worker warns when the namespace differs.
       */
      retention: duration('72h', '1h', '3650d'),
    })
    .prefault({}),
  storage: z
    .object({
      /** `file://<path>` or `s3://bucket/prefix`; empty means `file://<dataDir>/objects`. */
      url: storageUrlSchema.or(z.literal('')).default(''),
      s3: z
        .object({
          endpoint: z.string().url().optional(),
          region: z.string().min(1).default('us-east-1'),
          forcePathStyle: bool(false),
          partSizeBytes: z.coerce
            .number()
            .int()
            .min(5 * 1024 * 1024)
            .default(8 * 1024 * 1024),
          queueSize: z.coerce.number().int().min(1).max(16).default(2),
        })
        .prefault({}),
      /**
       * Partial downloads (resumable checkpoints) untouched this long are removed by the worker's
       * sweeper (partial-sweeper.ts); those of resources that failed for good go at once.
       */
      partialMaxAgeMs: ms(24 * 60 * 60 * 1000),
      /** How often each worker sweeps partials (also once at start). */
      partialSweepIntervalMs: ms(10 * 60 * 1000),
      /**
       * Named stores besides `default` (which is `url` above), by name: from a config file, or from
       * `FETCHBOX_STORE_<NAME>_URL` and `FETCHBOX_STORE_<NAME>_S3_*` variables (store-settings.ts).
       */
      stores: namedStoresSchema,
    })
    .prefault({}),
  fetch: z
    .object({
      allowCidrs: list(),
      maxRedirects: z.coerce.number().int().min(0).max(20).default(5),
      maxBytes: z.coerce
        .number()
        .int()
        .positive()
        .default(5 * 1024 * 1024 * 1024),
      connectTimeoutMs: ms(10_000),
      headersTimeoutMs: ms(30_000),
      bodyIdleTimeoutMs: ms(30_000),
      userAgent: z.string().min(1).default('FetchBox/0.1'),
      /** Most body bytes a handler's `ctx.fetchText` reads; unset: handlers/fetch-text.ts's default (8 MiB). */
      textMaxBytes: z.coerce.number().int().positive().optional(),
      /** Total deadline of one `ctx.fetchText` in ms; unset: handlers/fetch-text.ts's default (30 s). */
      textDeadlineMs: z.coerce.number().int().positive().optional(),
      /**
       * Proxies by tier name: `http(s)://[user:pass@]host:port`. From a config file, or from
       * `FETCHBOX_PROXY_<NAME>_URL` variables (the credentials then live only in the environment).
       */
      proxies: z
        .record(z.string().regex(/^[a-z0-9_-]+$/, 'proxy names are lower-case letters, digits, _ and -'), z.url({ protocol: /^https?$/ }))
        .default({}),
      /** Tiers a download moves through on retryable failures, in order; `direct` means no proxy. */
      proxyTiers: list().transform((tiers) => (tiers.length === 0 ? ['direct'] : tiers)),
      /** Attempts made on one tier before moving to the next. */
      attemptsPerTier: z.coerce.number().int().min(1).max(100).default(1),
    })
    .prefault({}),
  job: z
    .object({
      concurrency: z.coerce.number().int().min(1).max(1_000).default(16),
      pageParallelism: z.coerce.number().int().min(1).max(16).default(2),
      /** Politeness: downloads in flight per host for a whole job (0 = no per-host limit). */
      perHostConcurrency: z.coerce.number().int().min(0).max(1_000).default(0),
      /**
       * First attempts of this many resources run in one activity (Temporal's cost per activity
       * is shared); retries run one resource per activity. 1 = one activity per resource.
       */
      batchSize: z.coerce.number().int().min(1).max(1_000).default(100),
      /**
       * Small jobs of at most this many resources run their one page inline in the job workflow
       * (one workflow and one activity per job; INLINE_RUN_LIMITS caps it at 500). 0 = never.
       */
      inlineMaxResources: z.coerce.number().int().min(0).max(500).default(500),
      pageSize: z.coerce.number().int().min(1).max(5_000).default(1_000),
      retry: retryPolicySchema.prefault({}),
      attemptTimeoutMs: ms(10 * 60_000),
      /**
       * A download that heartbeats nothing for this long is retried elsewhere. At least 2 s:
       * downloads heartbeat once a second, and not in their first second.
       */
      heartbeatTimeoutMs: z.coerce.number().int().min(2_000).default(60_000),
      /** Skip-if-present: keep an existing object from the same URL instead of downloading again. */
      skipExisting: bool(false),
      /** With skipExisting: only objects younger than this count as present (0 = any age). */
      skipExistingMaxAgeMs: z.coerce.number().int().min(0).default(0),
    })
    .prefault({}),
  limits: z
    .object({
      maxResourcesPerJob: z.coerce.number().int().min(1).max(1_000_000).default(100_000),
      /** Largest `metadata` of a manifest, as serialized JSON; it travels with every job's input. */
      maxMetadataBytes: z.coerce
        .number()
        .int()
        .min(2)
        .max(1024 * 1024)
        .default(64 * 1024),
    })
    .prefault({}),
  /**
   * Politeness per host across every job and worker (docs/jobs.md#politeness): a host's limit is
   * enforced by its coordinator workflow, which leases permits to each worker's broker.
   */
  politeness: z
    .object({
      /** Requests in flight per host across all jobs and workers, for hosts without an override; 0 = no limit. */
      hostConcurrency: z.coerce.number().int().min(0).max(1_000).default(0),
      /** How long a worker keeps its permits without renewing (it renews every third of it); a dead worker's come back after it. */
      leaseMs: z.coerce.number().int().min(1_000).max(600_000).default(15_000),
    })
    .prefault({}),
  /** Per-host overrides of `politeness.hostConcurrency`, from the config file, by host (`name` or `name:port`, lower case). */
  hosts: hostsSchema,
  webhooks: webhooksSchema,
  /** OpenTelemetry tracing through Temporal's interceptors; off while `endpoint` is empty. */
  otel: z
    .object({
      /** OTLP/HTTP traces endpoint, e.g. http://otel-collector:4318/v1/traces. */
      endpoint: z.union([z.literal(''), z.url()]).default(''),
      serviceName: z.string().min(1).default('fetchbox'),
    })
    .prefault({}),
  /**
   * Handler modules to load beside the built-in handlers (`--handlers`, FETCHBOX_HANDLERS): paths
   * relative to the working directory, or package names resolved from it (handlers/handler-modules.ts).
   */
  handlerModules: list(),
  /**
   * Per-handler configuration, from the config file: `policy` overrides the handler's own
   * defaults (same fields as a job policy), `settings` are strings the handler reads (secrets
   * are better given as FETCHBOX_HANDLER_<NAME>_<KEY> variables).
   */
  handlers: z
    .record(
      z.string(),
      z.object({
        policy: handlerPolicySchema.default({}),
        settings: z.record(z.string(), z.string()).default({}),
      }),
    )
    .default({}),
  worker: z
    .object({
      maxConcurrentActivities: z.coerce.number().int().min(1).max(2_000).default(64),
      /** Concurrent activity task polls (long polls kept open to the server). */
      activityPollers: z.coerce.number().int().min(1).max(100).default(10),
      /** Concurrent workflow task polls. */
      workflowPollers: z.coerce.number().int().min(2).max(100).default(10),
      /**
       * Most time between two heartbeats an activity sends to the server (Temporal's
       * `maxHeartbeatThrottleInterval`): how current a batch's resumable outcomes and a small job's
       * live counts are. Lower means more heartbeat writes on the server.
       */
      heartbeatThrottleMs: z.coerce.number().int().min(100).max(60_000).default(5_000),
      /**
       * How far V8 lets the heap grow past what survived the last full GC, in percent (V8's
       * `--heap-growing-percent`, set when the worker starts); 0 keeps V8's own factor (up to 4×).
       * Live data of a worker is small; the rest of its RSS after a burst is heap headroom and
       * garbage not yet collected (docs/performance.md, Worker memory).
       */
      heapGrowthPercent: z.coerce.number().int().min(0).max(300).default(50),
      /** Address of the worker's /metrics (FetchBox and Temporal SDK metrics together). */
      metricsHost: z.string().min(1).default('127.0.0.1'),
      /** Port of the worker's /metrics; 0 picks a free one, -1 turns it off. */
      metricsPort: z.coerce.number().int().min(-1).max(65_535).default(9464),
      /** Loopback port of Temporal's own Prometheus exporter, read by the worker's /metrics. */
      temporalMetricsPort: z.coerce.number().int().min(1).max(65_535).default(9465),
      /**
       * On SIGTERM: how long in-flight activities may run to completion before they are canceled
       * (and retried by other workers). 0 cancels them at once.
       */
      shutdownGraceMs: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
    })
    .prefault({}),
});

/** Parsed, defaulted configuration as the rest of the code sees it. */
export type Config = z.infer<typeof configSchema>;
