import { describe, expect, it } from 'vitest';
import type { DownloadTask } from '../../src/workflows/job-types.js';
import {
  CREDENTIAL_HEADERS,
  isCredentialHeader,
  isSameOrigin,
  originOf,
  restrictTaskCredentials,
  withoutCredentials,
} from '../../src/fetch/credentials.js';

describe('origins', () => {
  it.each([
    ['http://h.test/a', 'http://h.test/b?x', true],
    ['http://h.test/a', 'http://h.test:80/b', true],
    ['https://h.test/a', 'https://h.test:443/b', true],
    ['http://H.TEST/a', 'http://h.test/b', true],
    ['http://h.test/a', 'https://h.test/a', false],
    ['http://h.test/a', 'http://h.test:8080/a', false],
    ['http://h.test/a', 'http://sub.h.test/a', false],
    ['http://127.0.0.1:1000/', 'http://127.0.0.1:1001/', false],
    ['http://127.0.0.1/', 'http://localhost/', false],
    ['not a url', 'not a url', false],
  ])('%s and %s: same origin %s', (a, b, same) => {
    expect(isSameOrigin(a, b)).toBe(same);
  });

  it('has no origin for unparseable or opaque URLs', () => {
    expect(originOf('::')).toBeUndefined();
    expect(originOf('data:text/plain,x')).toBeUndefined();
    expect(originOf('https://h.test:443/x')).toBe('https://h.test');
  });
});

describe('credential headers', () => {
  it('are Authorization, Cookie and Proxy-Authorization, in any case', () => {
    expect([...CREDENTIAL_HEADERS]).toEqual(['authorization', 'cookie', 'proxy-authorization']);
    for (const name of ['Authorization', 'AUTHORIZATION', 'cookie', 'Cookie', 'Proxy-Authorization', 'proxy-AUTHORIZATION']) {
      expect(isCredentialHeader(name)).toBe(true);
    }
    for (const name of ['Cookie2', 'X-Authorization', 'Set-Cookie', 'Referer', 'Proxy-Connection'])
      expect(isCredentialHeader(name)).toBe(false);
  });

  it('are removed by withoutCredentials, other headers kept', () => {
    const headers = { AUTHORIZATION: 'Bearer t', Cookie: 'a=b', 'proxy-authorization': 'Basic x', 'X-Keep': '1', Referer: 'http://r/' };
    expect(withoutCredentials(headers)).toEqual({ 'X-Keep': '1', Referer: 'http://r/' });
    const clean = { 'X-Keep': '1' };
    expect(withoutCredentials(clean)).toBe(clean);
    expect(withoutCredentials(undefined)).toBeUndefined();
  });
});

describe('restrictTaskCredentials (tasks a handler expanded)', () => {
  const resources: { url: string; headers?: Record<string, string> }[] = [
    { url: 'https://a.test/listing', headers: { Authorization: 'Bearer A', Cookie: 's=1', 'X-Crawl': 'c' } },
    { url: 'https://c.test/other' },
  ];

  it('keeps a credential on the origin of a resource that carries the same value', () => {
    const tasks: DownloadTask[] = [
      { id: '1', url: 'https://a.test:443/files/x.bin', key: 'k1', headers: { authorization: 'Bearer A', cookie: 's=1', Referer: 'r' } },
    ];
    expect(restrictTaskCredentials(tasks, resources)).toEqual(tasks);
  });

  it('drops credentials copied to another origin, keeping the other headers', () => {
    const tasks: DownloadTask[] = [
      { id: '1', url: 'https://cdn.test/x.bin', key: 'k1', headers: { Authorization: 'Bearer A', Cookie: 's=1', 'X-Crawl': 'c' } },
      { id: '2', url: 'http://a.test/x.bin', key: 'k2', headers: { Authorization: 'Bearer A' } },
      { id: '3', url: 'https://a.test:8443/x.bin', key: 'k3', headers: { Cookie: 's=1' } },
    ];
    expect(restrictTaskCredentials(tasks, resources)).toEqual([
      { id: '1', url: 'https://cdn.test/x.bin', key: 'k1', headers: { 'X-Crawl': 'c' } },
      { id: '2', url: 'http://a.test/x.bin', key: 'k2' },
      { id: '3', url: 'https://a.test:8443/x.bin', key: 'k3' },
    ]);
  });

  it('drops a credential value the manifest never gave for that origin', () => {
    const tasks: DownloadTask[] = [
      { id: '1', url: 'https://a.test/x', key: 'k', headers: { Authorization: 'Bearer other' } },
      { id: '2', url: 'https://c.test/x', key: 'k', headers: { Cookie: 's=1', 'Proxy-Authorization': 'Basic p' } },
    ];
    expect(restrictTaskCredentials(tasks, resources)).toEqual([
      { id: '1', url: 'https://a.test/x', key: 'k' },
      { id: '2', url: 'https://c.test/x', key: 'k' },
    ]);
  });

  it('leaves tasks without credentials untouched', () => {
    const tasks: DownloadTask[] = [
      { id: '1', url: 'https://z.test/x', key: 'k', headers: { Referer: 'https://a.test/listing' } },
      { id: '2', url: 'https://z.test/y', key: 'k' },
    ];
    const out = restrictTaskCredentials(tasks, resources);
    expect(out[0]).toBe(tasks[0]);
    expect(out[1]).toBe(tasks[1]);
  });
});
