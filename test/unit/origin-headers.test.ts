import { describe, expect, it } from 'vitest';
import type { DownloadTask } from '../../src/model/job-types.js';
import {
  CROSS_ORIGIN_HEADERS,
  headersForOrigin,
  isCrossOriginHeader,
  isSameOrigin,
  originOf,
  refererFor,
  restrictTaskHeaders,
} from '../../src/fetch/origin-headers.js';

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

describe('headers on another origin', () => {
  it('are User-Agent, Accept, Accept-Language, Accept-Encoding, Range, If-Range and Referer, in any case', () => {
    expect([...CROSS_ORIGIN_HEADERS]).toEqual([
      'user-agent',
      'accept',
      'accept-language',
      'accept-encoding',
      'range',
      'if-range',
      'referer',
    ]);
    for (const name of ['User-Agent', 'ACCEPT', 'accept-language', 'Accept-Encoding', 'Range', 'If-Range', 'REFERER']) {
      expect(isCrossOriginHeader(name)).toBe(true);
    }
    for (const name of ['Authorization', 'Cookie', 'X-Api-Key', 'Private-Token', 'Accept-Charset-X', 'X-Accept', 'Origin', 'If-None-Match'])
      expect(isCrossOriginHeader(name)).toBe(false);
  });

  const given = {
    Authorization: 'Bearer t',
    Cookie: 'a=b',
    'X-Api-Key': 'k',
    'PRIVATE-TOKEN': 'p',
    'X-Custom': '1',
    'User-Agent': 'crawler/1',
    accept: 'image/*',
    'Accept-Language': 'de',
    'Accept-Encoding': 'identity',
    Referer: 'https://a.test/page?session=s3cret',
  };

  it('keeps everything on the same origin (the same object)', () => {
    expect(headersForOrigin(given, 'https://a.test/x', 'https://a.test:443/y')).toBe(given);
  });

  it('keeps only the non-secret ones on another origin, with Referer cut to its origin', () => {
    expect(headersForOrigin(given, 'https://a.test/x', 'https://cdn.test/y')).toEqual({
      'User-Agent': 'crawler/1',
      accept: 'image/*',
      'Accept-Language': 'de',
      'Accept-Encoding': 'identity',
      Referer: 'https://a.test/',
    });
  });

  it('treats another scheme or port as another origin, and an unparseable URL too', () => {
    for (const to of ['http://a.test/y', 'https://a.test:8443/y', 'not a url']) {
      expect(headersForOrigin({ 'X-Api-Key': 'k', Accept: '*/*' }, 'https://a.test/x', to)).toEqual({ Accept: '*/*' });
    }
    expect(headersForOrigin({ 'X-Api-Key': 'k' }, '::', 'https://a.test/')).toEqual({});
  });

  it('returns the same object when nothing changes, and undefined for none', () => {
    const plain = { Accept: '*/*', 'User-Agent': 'u' };
    expect(headersForOrigin(plain, 'https://a.test/', 'https://b.test/')).toBe(plain);
    expect(headersForOrigin(undefined, 'https://a.test/', 'https://b.test/')).toBeUndefined();
  });

  it.each([
    ['https://a.test/p?t=1', 'https://a.test/x', 'https://a.test/p?t=1'],
    ['https://a.test/p?t=1', 'https://b.test/x', 'https://a.test/'],
    ['http://a.test/p?t=1', 'https://b.test/x', 'http://a.test/'],
    ['https://a.test/p?t=1', 'http://b.test/x', undefined],
    ['https://a.test/p?t=1', 'http://a.test/x', undefined],
    ['javascript:alert(1)', 'https://b.test/x', undefined],
    ['not a url', 'https://b.test/x', undefined],
  ])('Referer %s to %s is %s', (referrer, target, expected) => {
    expect(refererFor(referrer, target)).toBe(expected);
  });
});

describe('restrictTaskHeaders (tasks a handler expanded)', () => {
  const resources: { url: string; headers?: Record<string, string> }[] = [
    {
      url: 'https://a.test/listing',
      headers: { Authorization: 'Bearer A', Cookie: 's=1', 'X-Api-Key': 'ka', 'Private-Token': 'pa', Accept: '*/*' },
    },
    { url: 'https://c.test/other', headers: { 'X-Api-Key': 'kc' } },
  ];

  it('keeps headers on the origin of a resource that carries the same value', () => {
    const tasks: DownloadTask[] = [
      {
        id: '1',
        url: 'https://a.test:443/files/x.bin',
        key: 'k1',
        headers: {
          authorization: 'Bearer A',
          cookie: 's=1',
          'x-api-key': 'ka',
          'Private-Token': 'pa',
          Referer: 'https://a.test/listing?s=1',
        },
      },
      { id: '2', url: 'https://c.test/y', key: 'k2', headers: { 'X-Api-Key': 'kc' } },
    ];
    expect(restrictTaskHeaders(tasks, resources)).toEqual(tasks);
  });

  it('drops every header given for another origin except the non-secret ones (Referer cut)', () => {
    const tasks: DownloadTask[] = [
      {
        id: '1',
        url: 'https://cdn.test/x.bin',
        key: 'k1',
        headers: {
          Authorization: 'Bearer A',
          'X-Api-Key': 'ka',
          'Private-Token': 'pa',
          Accept: '*/*',
          Referer: 'https://a.test/listing?s=1',
        },
      },
      { id: '2', url: 'http://a.test/x.bin', key: 'k2', headers: { 'X-Api-Key': 'ka' } },
      { id: '3', url: 'https://a.test:8443/x.bin', key: 'k3', headers: { 'Private-Token': 'pa' } },
    ];
    expect(restrictTaskHeaders(tasks, resources)).toEqual([
      { id: '1', url: 'https://cdn.test/x.bin', key: 'k1', headers: { Accept: '*/*', Referer: 'https://a.test/' } },
      { id: '2', url: 'http://a.test/x.bin', key: 'k2' },
      { id: '3', url: 'https://a.test:8443/x.bin', key: 'k3' },
    ]);
  });

  it("never moves one resource's value to another resource's origin", () => {
    const tasks: DownloadTask[] = [
      { id: '1', url: 'https://c.test/x', key: 'k', headers: { 'X-Api-Key': 'ka', Cookie: 's=1' } },
      { id: '2', url: 'https://a.test/x', key: 'k', headers: { 'X-Api-Key': 'kc', Referer: 'https://c.test/other?t' } },
    ];
    expect(restrictTaskHeaders(tasks, resources)).toEqual([
      { id: '1', url: 'https://c.test/x', key: 'k' },
      { id: '2', url: 'https://a.test/x', key: 'k', headers: { Referer: 'https://c.test/' } },
    ]);
  });

  it('drops a value the manifest never gave for that origin (a handler adds its own in its headers hook)', () => {
    const tasks: DownloadTask[] = [
      { id: '1', url: 'https://a.test/x', key: 'k', headers: { 'X-Signature': 'sig', Authorization: 'Bearer other', Accept: 'text/*' } },
      { id: '2', url: 'https://z.test/x', key: 'k', headers: { 'X-Signature': 'sig', 'Proxy-Authorization': 'Basic p' } },
    ];
    expect(restrictTaskHeaders(tasks, resources)).toEqual([
      { id: '1', url: 'https://a.test/x', key: 'k', headers: { Accept: 'text/*' } },
      { id: '2', url: 'https://z.test/x', key: 'k' },
    ]);
  });

  it('drops all but the non-secret headers of a task whose URL has no origin', () => {
    const tasks: DownloadTask[] = [{ id: '1', url: 'not a url', key: 'k', headers: { 'X-Api-Key': 'ka', 'User-Agent': 'u' } }];
    expect(restrictTaskHeaders(tasks, resources)).toEqual([{ id: '1', url: 'not a url', key: 'k', headers: { 'User-Agent': 'u' } }]);
  });

  it('leaves tasks that need no change untouched (the same objects)', () => {
    const tasks: DownloadTask[] = [
      { id: '1', url: 'https://z.test/x', key: 'k', headers: { Accept: '*/*', Referer: 'https://z.test/listing' } },
      { id: '2', url: 'https://z.test/y', key: 'k' },
    ];
    const out = restrictTaskHeaders(tasks, resources);
    expect(out[0]).toBe(tasks[0]);
    expect(out[1]).toBe(tasks[1]);
  });
});
