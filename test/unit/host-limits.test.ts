import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { anyHostLimit, hostLimitFor } from '../../src/config/host-limits.js';
import { loadConfig } from '../../src/config/load-config.js';

async function configFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fetchbox-hosts-'));
  const file = path.join(dir, 'fetchbox.yaml');
  await writeFile(file, text);
  return file;
}

describe('per-host limits in configuration (FETCHBOX_HOST_CONCURRENCY, hosts."<host>")', () => {
  it('defaults to no limit: no host is limited, so workers start no broker and no coordinator', () => {
    const config = loadConfig({});
    expect(config.politeness).toEqual({ hostConcurrency: 0, leaseMs: 15_000 });
    expect(config.hosts).toEqual({});
    expect(anyHostLimit(config)).toBe(false);
    expect(hostLimitFor(config, 'example.com')).toBeUndefined();
  });

  it('FETCHBOX_HOST_CONCURRENCY is the default limit of every host; FETCHBOX_HOST_LEASE_MS the lease time', () => {
    const config = loadConfig({ FETCHBOX_HOST_CONCURRENCY: '4', FETCHBOX_HOST_LEASE_MS: '6000' });
    expect(anyHostLimit(config)).toBe(true);
    expect(hostLimitFor(config, 'example.com')).toEqual({ concurrency: 4, minDelayMs: 0 });
    expect(config.politeness.leaseMs).toBe(6000);
  });

  it('overrides from the config file by name or name:port (lower-cased), port first; 0 exempts a host', async () => {
    const file = await configFile(
      [
        'hosts:',
        '  Example.COM:',
        '    concurrency: 2',
        '    minDelayMs: 250',
        '  "example.com:8443":',
        '    concurrency: 1',
        '  cdn.example.net:',
        '    concurrency: 0',
        '  "[::1]":',
        '    concurrency: 3',
      ].join('\n'),
    );
    const config = loadConfig({ FETCHBOX_CONFIG: file, FETCHBOX_HOST_CONCURRENCY: '8' });
    expect(hostLimitFor(config, 'example.com')).toEqual({ concurrency: 2, minDelayMs: 250 });
    expect(hostLimitFor(config, 'example.com:8080')).toEqual({ concurrency: 2, minDelayMs: 250 });
    expect(hostLimitFor(config, 'example.com:8443')).toEqual({ concurrency: 1, minDelayMs: 0 });
    expect(hostLimitFor(config, 'cdn.example.net')).toBeUndefined();
    expect(hostLimitFor(config, '[::1]:9000')).toEqual({ concurrency: 3, minDelayMs: 0 });
    expect(hostLimitFor(config, 'other.org')).toEqual({ concurrency: 8, minDelayMs: 0 });
  });

  it('an override alone turns politeness on for its host only', async () => {
    const config = loadConfig({ FETCHBOX_CONFIG: await configFile('hosts:\n  slow.example:\n    concurrency: 1\n') });
    expect(anyHostLimit(config)).toBe(true);
    expect(hostLimitFor(config, 'slow.example')).toEqual({ concurrency: 1, minDelayMs: 0 });
    expect(hostLimitFor(config, 'fast.example')).toBeUndefined();
  });

  it('refuses bad values, naming the setting', async () => {
    expect(() => loadConfig({ FETCHBOX_HOST_CONCURRENCY: '-1' })).toThrow(/politeness\.hostConcurrency \(FETCHBOX_HOST_CONCURRENCY\)/);
    expect(() => loadConfig({ FETCHBOX_HOST_LEASE_MS: '10' })).toThrow(/politeness\.leaseMs \(FETCHBOX_HOST_LEASE_MS\)/);
    await expect(async () =>
      loadConfig({ FETCHBOX_CONFIG: await configFile('hosts:\n  a.example:\n    concurrency: 2\n    burst: 3\n') }),
    ).rejects.toThrow(/hosts\.a\.example/);
    await expect(async () =>
      loadConfig({ FETCHBOX_CONFIG: await configFile('hosts:\n  a.example:\n    concurrency: 0\n    minDelayMs: 100\n') }),
    ).rejects.toThrow(/minDelayMs needs a concurrency/);
    await expect(async () => loadConfig({ FETCHBOX_CONFIG: await configFile('hosts:\n  "a b/c":\n    concurrency: 1\n') })).rejects.toThrow(
      /hosts\.a b\/c/,
    );
  });
});
