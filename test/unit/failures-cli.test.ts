import { afterEach, describe, expect, it, vi } from 'vitest';
import { timeOption } from '../../src/cli/api-client.js';
import { summarizeFailures } from '../../src/cli/failures-command.js';
import { isRetryWhere, parseWhere } from '../../src/cli/jobs-retry.js';
import { main } from '../../src/cli/main.js';

const NOW = Date.parse('2026-11-28T02:00:00.000Z');

describe('timeOption', () => {
  it.each([
    ['1h', '2026-11-28T01:00:00.000Z'],
    ['30m', '2026-11-28T01:30:00.000Z'],
    ['2d', '2026-11-26T02:00:00.000Z'],
    ['1d12h', '2026-11-26T14:00:00.000Z'],
    ['2026-11-27T10:00:00+02:00', '2026-11-27T08:00:00.000Z'],
    ['2026-11-27', '2026-11-27T00:00:00.000Z'],
  ])('%s → %s', (text, iso) => {
    expect(timeOption(text, NOW)).toBe(iso);
  });

  it.each(['', 'yesterday', '1 hour', '60', '2026-13-45', 'h'])('refuses %j', (text) => {
    expect(timeOption(text, NOW)).toBeUndefined();
  });
});

describe('parseWhere', () => {
  it('turns the filter into the POST /retries body, since as ISO 8601', () => {
    expect(parseWhere('status=completed_with_failures,handler=x,since=1h,kind=timeout', NOW)).toEqual({
      status: 'completed_with_failures',
      handler: 'x',
      since: '2026-11-28T01:00:00.000Z',
      kind: 'timeout',
    });
    expect(parseWhere(' kind = too_large ', NOW)).toEqual({ kind: 'too_large' });
  });

  it.each([
    ['', /at least one/],
    ['state=running', /is not one of/],
    ['=x', /is not one of/],
    ['handler', /is not one of/],
    ['handler=', /no value/],
    ['handler=a,handler=b', /twice/],
    ['since=last-week', /neither a duration/],
  ])('refuses %j', (text, message) => {
    expect(() => parseWhere(text, NOW)).toThrow(message);
  });

  it('recognizes the bulk form only with --where', () => {
    expect(isRetryWhere(['retry', '--where', 'kind=timeout'])).toBe(true);
    expect(isRetryWhere(['--api', 'http://x', 'retry', '--where=kind=timeout'])).toBe(true);
    expect(isRetryWhere(['retry', 'job-1'])).toBe(false);
  });
});

describe('summarizeFailures', () => {
  const f = (jobId: string, url: string, kind: string) => ({
    jobId,
    id: 'r',
    url,
    attempts: 1,
    error: { kind, message: 'm' },
    when: '2026-11-28T00:00:00.000Z',
  });
  it('counts by kind and by host (with port, lower case), largest first', () => {
    const summary = summarizeFailures(
      [
        f('a', 'https://CDN.test/x', 'timeout'),
        f('a', 'https://cdn.test/y', 'http_status'),
        f('b', 'http://o.test:8080/z', 'timeout'),
        f('c', 'nope', 'invalid_url'),
      ],
      true,
    );
    expect(summary).toEqual({
      failures: 4,
      jobs: 3,
      byKind: { timeout: 2, http_status: 1, invalid_url: 1 },
      byHost: { 'cdn.test': 2, '(invalid url)': 1, 'o.test:8080': 1 },
      truncated: true,
    });
    expect(Object.keys(summary.byKind)).toEqual(['timeout', 'http_status', 'invalid_url']);
  });
});

describe('fetchbox failures --help and jobs retry usage', () => {
  afterEach(() => vi.restoreAllMocks());
  const run = async (args: string[]) => {
    let out = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
    const code = await main(args);
    return { code, out };
  };

  it('prints the failures usage', async () => {
    const { code, out } = await run(['failures', '--help']);
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: fetchbox failures \[options\]/);
    expect(out).toContain('--since 1h|ISO');
  });

  it('lists failures and retry --where in the usages', async () => {
    expect((await run(['--help'])).out).toMatch(/^ {2}failures {2}/m);
    expect((await run(['jobs', '--help'])).out).toContain('retry --where K=V');
    expect((await run(['jobs', 'retry', '--where', 'kind=timeout', '--help'])).out).toMatch(/^Usage: fetchbox jobs retry --where/);
  });
});
