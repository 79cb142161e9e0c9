import { describe, expect, it } from 'vitest';
import { createAddressGuard } from '../../src/fetch/address-guard.js';
import { parseRetryAfter } from '../../src/fetch/response.js';
import { keyProblem } from '../../src/storage/keys.js';
import { defaultStorageKey } from '../../src/handlers/handler.js';

describe('address guard', () => {
  const guard = createAddressGuard([]);
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.0.10', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['::1', 'loopback'],
    ['fe80::1', 'linkLocal'],
    ['fd00:ec2::254', 'uniqueLocal'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'linkLocal'],
    ['[::1]', 'loopback'],
  ])('refuses %s (%s)', (address, range) => {
    expect(guard.refusal(address)).toBe(range);
  });

  it.each(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c', '8.8.8.8'])('allows public %s', (address) => {
    expect(guard.refusal(address)).toBeUndefined();
  });

  it('allows what allowCidrs lists, and only that', () => {
    const g = createAddressGuard(['127.0.0.0/8', '10.0.0.5', '::1/128']);
    expect(g.refusal('127.0.0.1')).toBeUndefined();
    expect(g.refusal('10.0.0.5')).toBeUndefined();
    expect(g.refusal('10.0.0.6')).toBe('private');
    expect(g.refusal('::1')).toBeUndefined();
    expect(g.refusal('::ffff:127.0.0.1')).toBeUndefined();
  });

  it('rejects a malformed allow-list entry with its text', () => {
    expect(() => createAddressGuard(['10.0.0.0/33'])).toThrow(/10\.0\.0\.0\/33/);
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-24T00:00:00Z');
  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Tue, 24 Nov 2026 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 00:00:05 GMT', now)).toBe(0);
  });
  it('ignores garbage and clamps huge values to an hour', () => {
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('1e9', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('99999999', now)).toBe(3_600_000);
  });
});

describe('storage keys', () => {
  it.each([
    ['a/b.pdf', undefined],
    ['', 'empty'],
    ['/etc/passwd', 'starts with /'],
    ['a/../../etc', 'has a ".." segment'],
    ['a//b', 'has a "" segment'],
    ['a/./b', 'has a "." segment'],
    ['a\\b', 'contains a control character or backslash'],
    ['a\nb', 'contains a control character or backslash'],
  ])('%j -> %s', (key, problem) => {
    expect(keyProblem(key)).toBe(problem);
  });

  it('derives default keys from the id and the URL file name', () => {
    const ctx = { jobId: 'job1', handler: 'default' };
    expect(defaultStorageKey({ id: '0', url: 'https://x.test/a/photo.jpg?x=1' }, ctx)).toBe('job1/0-photo.jpg');
    expect(defaultStorageKey({ id: 'b', url: 'https://x.test/' }, ctx)).toBe('job1/b');
    expect(defaultStorageKey({ id: '../up', url: 'https://x.test/..%2F..%2Fetc' }, ctx)).toBe('job1/__up-_.._etc');
    expect(defaultStorageKey({ id: 'c', url: 'https://x.test/c', key: 'custom/c.bin' }, ctx)).toBe('custom/c.bin');
    expect(keyProblem(defaultStorageKey({ id: '..', url: 'https://x.test/..' }, ctx))).toBeUndefined();
  });

  it('keeps every default key segment under 255 bytes (file systems), and long ids distinct', () => {
    const ctx = { jobId: 'j'.repeat(128), handler: 'default' };
    const url = `https://x.test/${'f'.repeat(300)}.bin`;
    const a = defaultStorageKey({ id: `${'i'.repeat(255)}a`, url }, ctx);
    const b = defaultStorageKey({ id: `${'i'.repeat(255)}b`, url }, ctx);
    expect(a).not.toBe(b);
    for (const key of [a, b]) {
      expect(keyProblem(key)).toBeUndefined();
      for (const segment of key.split('/')) expect(Buffer.byteLength(segment)).toBeLessThanOrEqual(255);
    }
    // Ids of up to 100 characters keep the key they always had.
    expect(defaultStorageKey({ id: 'x'.repeat(100), url: 'https://x.test/a.txt' }, { jobId: 'j' })).toBe(`j/${'x'.repeat(100)}-a.txt`);
  });
});

describe('tierForAttempt', () => {
  it('moves to the next tier every attemptsPerTier attempts and stays on the last', async () => {
    const { tierForAttempt } = await import('../../src/activities/download-one.js');
    const tiers = ['direct', 'p1', 'p2'];
    expect([1, 2, 3, 4, 5].map((a) => tierForAttempt(tiers, 1, a))).toEqual(['direct', 'p1', 'p2', 'p2', 'p2']);
    expect([1, 2, 3, 4, 5].map((a) => tierForAttempt(tiers, 2, a))).toEqual(['direct', 'direct', 'p1', 'p1', 'p2']);
    expect(tierForAttempt([], 1, 3)).toBe('direct');
  });
});
