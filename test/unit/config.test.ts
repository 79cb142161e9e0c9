import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { formatDurationMs, parseDurationMs } from '../../src/config/duration.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { defaultHandler } from '../../src/handlers/registry.js';
import { resolvePolicy } from '../../src/handlers/policy.js';
import { checkNamespaceRetention, MIN_RETRYABLE_RETENTION_MS, retentionProblem } from '../../src/temporal/retention.js';

describe('loadConfig', () => {
  it('has the contract defaults with no environment at all', () => {
    const config = loadConfig({});
    expect(config.api).toMatchObject({ host: '127.0.0.1', port: 3000, tokens: [] });
    expect(config.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', taskQueue: 'fetchbox' });
    expect(config.storage.url).toBe('file://data/objects');
    expect(config.dataDir).toBe('./data');
    expect(config.fetch.maxRedirects).toBe(5);
    expect(config.limits.maxResourcesPerJob).toBe(100_000);
  });

  it('reads environment variables, lists split on commas', () => {
    const config = loadConfig({
      FETCHBOX_API_PORT: '8080',
      FETCHBOX_FETCH_ALLOW_CIDRS: '10.0.0.0/8, 192.168.1.0/24',
      FETCHBOX_S3_FORCE_PATH_STYLE: 'true',
      FETCHBOX_DATA_DIR: '/var/lib/fetchbox',
      TEMPORAL_NAMESPACE: 'crawl',
    });
    expect(config.api.port).toBe(8080);
    expect(config.fetch.allowCidrs).toEqual(['10.0.0.0/8', '192.168.1.0/24']);
    expect(config.storage.s3.forcePathStyle).toBe(true);
    expect(config.storage.url).toBe('file:///var/lib/fetchbox/objects');
    expect(config.temporal.namespace).toBe('crawl');
  });

  it("bounds the worker's heap growth: 50 % by default, 0 for V8's own factor, at most 300", () => {
    expect(loadConfig({}).worker.heapGrowthPercent).toBe(50);
    expect(loadConfig({ FETCHBOX_WORKER_HEAP_GROWTH_PERCENT: '0' }).worker.heapGrowthPercent).toBe(0);
    expect(() => loadConfig({ FETCHBOX_WORKER_HEAP_GROWTH_PERCENT: '301' })).toThrow(/FETCHBOX_WORKER_HEAP_GROWTH_PERCENT/);
  });

  it('refuses a heartbeat timeout under 2 s, which every download would miss (they heartbeat once a second, not in the first)', () => {
    expect(loadConfig({ FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: '2000' }).job.heartbeatTimeoutMs).toBe(2000);
    expect(() => loadConfig({ FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS: '1000' })).toThrow(/FETCHBOX_JOB_HEARTBEAT_TIMEOUT_MS/);
  });

  it('merges the environment over a YAML file', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-config-'));
    const file = path.join(dir, 'fetchbox.yaml');
    await writeFile(file, 'api:\n  port: 4000\n  host: 127.0.0.2\njob:\n  concurrency: 3\n');
    const config = loadConfig({ FETCHBOX_CONFIG: file, FETCHBOX_API_PORT: '5000' });
    expect(config.api.port).toBe(5000);
    expect(config.api.host).toBe('127.0.0.2');
    expect(config.job.concurrency).toBe(3);
  });

  it("lets a config file turn off a handler's conditional recrawls (handlers.<name>.policy.revalidate)", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-config-'));
    const file = path.join(dir, 'fetchbox.yaml');
    await writeFile(file, 'handlers:\n  default:\n    policy:\n      revalidate: false\n');
    const config = loadConfig({ FETCHBOX_CONFIG: file });
    expect(resolvePolicy(config, defaultHandler).revalidate).toBe(false);
    expect(resolvePolicy(loadConfig({}), defaultHandler).revalidate).toBeUndefined();
    await writeFile(file, 'handlers:\n  default:\n    policy:\n      revalidate: "no"\n');
    expect(() => loadConfig({ FETCHBOX_CONFIG: file })).toThrow(/revalidate/);
  });

  it('names the setting and its variable when a value is invalid', () => {
    expect(() => loadConfig({ FETCHBOX_API_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ FETCHBOX_API_PORT: 'eighty' })).toThrow(/api\.port \(FETCHBOX_API_PORT\)/);
    expect(() => loadConfig({ FETCHBOX_LOG_LEVEL: 'loud' })).toThrow(/FETCHBOX_LOG_LEVEL/);
    expect(() => loadConfig({ FETCHBOX_FETCH_TEXT_MAX_BYTES: '0' })).toThrow(/fetch\.textMaxBytes \(FETCHBOX_FETCH_TEXT_MAX_BYTES\)/);
    expect(() => loadConfig({ FETCHBOX_FETCH_TEXT_DEADLINE_MS: 'soon' })).toThrow(/FETCHBOX_FETCH_TEXT_DEADLINE_MS/);
    expect(() => loadConfig({ FETCHBOX_STORAGE_URL: 'ftp://x' })).toThrow(/storage\.url \(FETCHBOX_STORAGE_URL\).*file:\/\/<directory>/);
    expect(() => loadConfig({ FETCHBOX_STORAGE_URL: 'ftp://x' })).toThrow(ConfigError);
  });

  it('says which file it could not read', () => {
    expect(() => loadConfig({ FETCHBOX_CONFIG: '/nonexistent/fetchbox.yaml' })).toThrow(/FETCHBOX_CONFIG: cannot read \/nonexistent/);
  });
});

describe('proxy tiers in configuration', () => {
  it('defines proxies from FETCHBOX_PROXY_<NAME>_URL and checks every tier exists', () => {
    const config = loadConfig({
      FETCHBOX_PROXY_RESIDENTIAL_URL: 'http://user:pw@127.0.0.1:8080',
      FETCHBOX_PROXY_TIERS: 'direct,residential',
      FETCHBOX_PROXY_ATTEMPTS_PER_TIER: '2',
    });
    expect(config.fetch.proxies).toEqual({ residential: 'http://user:pw@127.0.0.1:8080' });
    expect(config.fetch.proxyTiers).toEqual(['direct', 'residential']);
    expect(config.fetch.attemptsPerTier).toBe(2);
    expect(loadConfig({}).fetch.proxyTiers).toEqual(['direct']);
  });

  it('refuses a tier that names no proxy, and a proxy that is not an http(s) URL', () => {
    expect(() => loadConfig({ FETCHBOX_PROXY_TIERS: 'direct,missing' })).toThrow(/FETCHBOX_PROXY_TIERS.*"missing"/);
    expect(() => loadConfig({ FETCHBOX_PROXY_X_URL: 'socks5://127.0.0.1:1080' })).toThrow(/fetch\.proxies\.x/);
  });
});

describe('bad configuration input stops with a ConfigError naming the setting, not a stack trace', () => {
  it('a config file that does not parse', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-config-'));
    const json = path.join(dir, 'bad.json');
    const yaml = path.join(dir, 'bad.yaml');
    await writeFile(json, '{"api": ');
    await writeFile(yaml, 'api: [unclosed');
    expect(() => loadConfig({ FETCHBOX_CONFIG: json })).toThrow(ConfigError);
    expect(() => loadConfig({ FETCHBOX_CONFIG: json })).toThrow(/bad\.json is not valid JSON/);
    expect(() => loadConfig({ FETCHBOX_CONFIG: yaml })).toThrow(/bad\.yaml is not valid YAML/);
  });

  it('an allow-list entry that is not a CIDR', () => {
    expect(() => loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '10.0.0.0/8,nonsense' })).toThrow(ConfigError);
    expect(() => loadConfig({ FETCHBOX_FETCH_ALLOW_CIDRS: '10.0.0.0/8,nonsense' })).toThrow(/FETCHBOX_FETCH_ALLOW_CIDRS.*"nonsense"/);
  });
});

describe('temporal.retention (FETCHBOX_TEMPORAL_RETENTION)', () => {
  it('parses durations in days, hours, minutes and seconds into milliseconds', () => {
    expect(parseDurationMs('7d')).toBe(7 * 86_400_000);
    expect(parseDurationMs('168h')).toBe(7 * 86_400_000);
    expect(parseDurationMs('1d12h')).toBe(36 * 3_600_000);
    expect(parseDurationMs(' 90m ')).toBe(90 * 60_000);
    expect(parseDurationMs('3600s')).toBe(3_600_000);
    for (const bad of ['', '7', '7 d', '1h1d', '-1d', '1.5d', '7days', 'd']) expect(parseDurationMs(bad), bad).toBeUndefined();
    expect(formatDurationMs(36 * 3_600_000)).toBe('1d12h');
    expect(formatDurationMs(259_200_000)).toBe('3d');
    expect(formatDurationMs(0)).toBe('0s');
  });

  it('defaults to 72 h and reads the variable and a config file alike', async () => {
    expect(loadConfig({}).temporal.retention).toBe(72 * 3_600_000);
    expect(loadConfig({ FETCHBOX_TEMPORAL_RETENTION: '7d' }).temporal.retention).toBe(7 * 86_400_000);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-config-'));
    const file = path.join(dir, 'fetchbox.yaml');
    await writeFile(file, 'temporal:\n  retention: 30d\n');
    expect(loadConfig({ FETCHBOX_CONFIG: file }).temporal.retention).toBe(30 * 86_400_000);
  });

  it('refuses what is not a duration, or is under an hour or over ten years, naming the variable', () => {
    expect(() => loadConfig({ FETCHBOX_TEMPORAL_RETENTION: '168' })).toThrow(
      /temporal\.retention \(FETCHBOX_TEMPORAL_RETENTION\): expected a duration/,
    );
    expect(() => loadConfig({ FETCHBOX_TEMPORAL_RETENTION: '30m' })).toThrow(/FETCHBOX_TEMPORAL_RETENTION\): must be between 1h and 3650d/);
    expect(() => loadConfig({ FETCHBOX_TEMPORAL_RETENTION: '3651d' })).toThrow(ConfigError);
  });

  it('says what is wrong with a namespace retention: different from the setting, too short to retry, or none', () => {
    const day = 86_400_000;
    expect(retentionProblem(3 * day, 3 * day)).toBeUndefined();
    expect(retentionProblem(day, 3 * day)).toMatch(
      /keeps closed jobs for 1d, temporal\.retention \(FETCHBOX_TEMPORAL_RETENTION\) says 3d: failed jobs stay retryable for 1d/,
    );
    expect(retentionProblem(30 * day, 3 * day)).toMatch(/keeps closed jobs for 30d/);
    expect(retentionProblem(2 * 3_600_000, 2 * 3_600_000)).toMatch(/under 1d loses failed jobs/);
    expect(retentionProblem(undefined, 3 * day)).toMatch(/reports no retention/);
    expect(MIN_RETRYABLE_RETENTION_MS).toBe(day);
  });
});

describe("a worker's retention check at start", () => {
  const day = 86_400_000;
  /** A client whose DescribeNamespace answers `answer` (or throws it), and a logger that records. */
  function fakes(answer: unknown) {
    const describeNamespace = vi.fn(async () => {
      if (answer instanceof Error) throw answer;
      return answer;
    });
    const client = {
      workflowService: { describeNamespace },
      connection: { withDeadline: (_deadline: number, fn: () => Promise<unknown>) => fn() },
    } as unknown as Client;
    const logger = { warn: vi.fn(), info: vi.fn() };
    return { client, logger, describeNamespace };
  }

  it('reads the namespace it is given and logs a warning naming both retentions when they differ', async () => {
    const { client, logger, describeNamespace } = fakes({ config: { workflowExecutionRetentionTtl: { seconds: 86_400, nanos: 0 } } });
    await checkNamespaceRetention(client, 'crawl', 3 * day, logger as unknown as Logger);
    expect(describeNamespace).toHaveBeenCalledWith({ namespace: 'crawl' });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(logger.warn.mock.calls[0]![0]).toEqual({ namespace: 'crawl', retention: '1d', expected: '3d' });
    expect(logger.warn.mock.calls[0]![1]).toMatch(/^namespace retention mismatch: /);
  });

  it('logs at info when the namespace has the configured retention (seconds as a protobuf Long)', async () => {
    const long = { toString: () => '259200' }; // what protobufjs hands back for int64
    const { client, logger } = fakes({ config: { workflowExecutionRetentionTtl: { seconds: long } } });
    await checkNamespaceRetention(client, 'default', 3 * day, logger as unknown as Logger);
    expect(logger.warn).not.toHaveBeenCalled();
    expect(logger.info.mock.calls[0]![0]).toEqual({ namespace: 'default', retention: '3d', expected: '3d' });
  });

  it('never fails the start: a refused DescribeNamespace is a warning', async () => {
    const { client, logger } = fakes(new Error('PermissionDenied: Request unauthorized'));
    await expect(checkNamespaceRetention(client, 'default', 3 * day, logger as unknown as Logger)).resolves.toBeUndefined();
    expect(logger.warn.mock.calls[0]![1]).toMatch(/cannot read the namespace retention/);
  });
});
