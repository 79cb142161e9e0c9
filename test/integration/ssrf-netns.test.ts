import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/temporal/temporal-cli.js';

// The address guard against real private, CGNAT and metadata addresses, inside a network namespace
// of its own (`unshare -n`): the probe puts 10.0.0.1, 192.168.7.7, 169.254.169.254,
// 100.100.100.200 and fd00:ec2::254 on the namespace's loopback and listens there, so a broken
// guard could only ever reach those listeners, never a real network. Needs root (as CI runs).
describe('SSRF guard in a network namespace', () => {
  const out = execFileSync('unshare', ['-n', process.execPath, path.join(projectRoot, 'test', 'netns', 'ssrf-probe.mjs')], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const result = JSON.parse(out) as {
    refused: { url: string; outcome: string; message?: string }[];
    blockedConnections: Record<string, number>;
    control: { outcome: string };
    controlViaRedirect: { outcome: string };
    controlConnections: number;
  };

  it('refuses every blocked address: direct, encoded, by name and behind a redirect', () => {
    expect(result.refused.length).toBe(19);
    for (const r of result.refused) expect(r, r.url).toMatchObject({ outcome: 'blocked_address' });
  });

  it('lets zero connections reach a listener on a blocked address', () => {
    expect(result.blockedConnections).toEqual({});
  });

  it('does reach them when allowCidrs allows them (the listeners do count)', () => {
    expect(result.control.outcome).toBe('fetched');
    expect(result.controlViaRedirect.outcome).toBe('fetched');
    expect(result.controlConnections).toBeGreaterThanOrEqual(1);
  });
});
