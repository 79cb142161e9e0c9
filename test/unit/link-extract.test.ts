import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import {
  clampMaxLinks,
  compileLinkPattern,
  extractLinks,
  extractLinksAsync,
  MAX_EXTRACTED_LINKS,
  MAX_LINKS_PER_LISTING,
} from '../../src/handlers/link-expander.js';

const BASE = 'http://h.test/dir/index.html';

/** Runs `fn` and returns the worst event-loop delay seen meanwhile, in ms (10 ms resolution). */
async function worstDelayMs(fn: () => Promise<unknown>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  try {
    await fn();
  } finally {
    histogram.disable();
  }
  return histogram.max / 1e6;
}

describe('extractLinks (htmlparser2 tokenizer)', () => {
  it('resolves a and area hrefs, decodes entities, drops fragments, non-http schemes and duplicates', () => {
    const html = `<a href="a.jpg">a</a><A HREF='/b.pdf'>b</A><a href=c.txt#x>c</a><a href="a.jpg">again</a><a href="#top">t</a>
      <a href="mailto:x@y.z">m</a><a href="javascript:alert(1)">j</a><a href="data:text/plain,x">d</a><a href="x?a=1&amp;b=2">q</a>
      <area href="map.png"><a name="no-href">n</a><link href="style.css"><a href="ftp://h.test/f">f</a><a href="http://[bad">bad</a>`;
    expect(extractLinks(html, BASE)).toEqual([
      'http://h.test/dir/a.jpg',
      'http://h.test/b.pdf',
      'http://h.test/dir/c.txt',
      'http://h.test/dir/x?a=1&b=2',
      'http://h.test/dir/map.png',
    ]);
  });

  it('honours the first <base href>', () => {
    const html = `<head><base href="https://cdn.test/files/"><base href="https://ignored.test/"></head><a href="one.bin">1</a><a href="/two.bin">2</a>`;
    expect(extractLinks(html, BASE)).toEqual(['https://cdn.test/files/one.bin', 'https://cdn.test/two.bin']);
  });

  it('stops at maxLinks accepted links and never collects more than MAX_EXTRACTED_LINKS', async () => {
    const html = Array.from({ length: 50 }, (_, i) => `<a href="f${i}.bin">${i}</a><a href="skip${i}.txt">s</a>`).join('');
    const accept = (link: string) => link.endsWith('.bin');
    expect(extractLinks(html, BASE, { accept, maxLinks: 3 })).toEqual([
      'http://h.test/dir/f0.bin',
      'http://h.test/dir/f1.bin',
      'http://h.test/dir/f2.bin',
    ]);
    expect(await extractLinksAsync(html, BASE, { accept, maxLinks: 3 })).toHaveLength(3);
    const many = Array.from({ length: MAX_EXTRACTED_LINKS + 10 }, (_, i) => `<a href=${i}>`).join('');
    expect(await extractLinksAsync(many, BASE, { maxLinks: Number.MAX_SAFE_INTEGER })).toHaveLength(MAX_EXTRACTED_LINKS);
  });

  it('skips hrefs longer than 8 KiB', () => {
    expect(extractLinks(`<a href="${'a'.repeat(9_000)}">x</a><a href="ok">y</a>`, BASE)).toEqual(['http://h.test/dir/ok']);
  });

  it('is the same, chunk by chunk, as in one piece (tags cut across chunks)', async () => {
    const html = Array.from({ length: 20_000 }, (_, i) => `<a   href = "p/${i}.bin?x=1&amp;y=${'é'.repeat(i % 5)}" >${i}</a>`).join('\n');
    expect(await extractLinksAsync(html, BASE)).toEqual(extractLinks(html, BASE));
  });

  it('parses 8 MiB of hostile markup without holding the event loop for 200 ms', async () => {
    const documents = [
      '<a '.repeat((8 * 1024 * 1024) / 3), // unclosed tag, quadratic for the old regex
      '<a href="x"'.repeat((8 * 1024 * 1024) / 11),
      '<'.repeat(8 * 1024 * 1024),
      '<a href="'.concat('a'.repeat(8 * 1024 * 1024)),
    ];
    const started = performance.now();
    const worst = await worstDelayMs(async () => {
      for (const html of documents) expect(await extractLinksAsync(html, BASE)).toEqual(expect.any(Array));
    });
    expect(worst).toBeLessThan(200);
    // Linear: 32 MiB in a few seconds at most even on a busy 2-core machine (the regex took minutes for 2 MiB).
    expect(performance.now() - started).toBeLessThan(15_000);
  });
});

describe('metadata.linkPattern (RE2)', () => {
  it('matches anywhere in the link, like RegExp#test', () => {
    const re = compileLinkPattern('\\.pdf$')!;
    expect(re.test('http://h.test/a.pdf')).toBe(true);
    expect(re.test('http://h.test/a.pdf.jpg')).toBe(false);
    expect(compileLinkPattern(undefined)).toBeUndefined();
  });

  it('runs catastrophic-backtracking patterns in linear time', async () => {
    const links = Array.from({ length: 200 }, (_, i) => `http://h.test/${i}/${'a'.repeat(5_000)}b`);
    const worst = await worstDelayMs(async () => {
      for (const source of ['^(a+)+$', '(a+)+$', '(a|aa)+$', '(.*a){20}$']) {
        const re = compileLinkPattern(source)!;
        expect(links.filter((l) => re.test(l))).toEqual([]);
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    expect(worst).toBeLessThan(200);
  });

  it.each([
    ['(a)\\1', /not a valid RE2 pattern.*invalid escape/],
    ['(?<=a)b', /not a valid RE2 pattern/],
    ['(?!a)b', /not a valid RE2 pattern/],
    ['[unclosed', /not a valid RE2 pattern/],
    [42, /must be a string/],
    ['a'.repeat(2_000), /longer than 1024/],
  ])('refuses %j with a clear message', (source, message) => {
    expect(() => compileLinkPattern(source)).toThrow(message);
  });
});

describe('metadata.maxLinks', () => {
  it.each([
    [undefined, 1_000],
    ['50', 1_000],
    [Number.NaN, 1_000],
    [Infinity, 1_000],
    [0, 1],
    [-5, 1],
    [2.7, 2],
    [500, 500],
    [1e9, MAX_LINKS_PER_LISTING],
  ])('%j becomes %d', (value, expected) => {
    expect(clampMaxLinks(value)).toBe(expected);
  });
});
