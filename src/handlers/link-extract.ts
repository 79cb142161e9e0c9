import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Parser } from 'htmlparser2';

/** Links one extraction collects at most, whatever the caller asks for. */
export const MAX_EXTRACTED_LINKS = 100_000;
/** An `href` longer than this is skipped (a manifest URL may be at most 8 KiB too). */
const MAX_HREF_CHARS = 8_192;
/** Characters parsed between two yields to the event loop (a few ms of work each). */
const CHUNK_CHARS = 64 * 1024;

/** How links are chosen while a document is parsed. */
export interface LinkExtractOptions {
  /** Keeps only links it returns true for (called once per distinct link). */
  accept?: (url: string) => boolean;
  /** Stops after this many accepted links (at most MAX_EXTRACTED_LINKS). */
  maxLinks?: number;
}

interface Collector {
  parser: Parser;
  links: Set<string>;
  full(): boolean;
}

/**
 * A streaming htmlparser2 tokenizer that collects `<a href>` and `<area href>` targets resolved
 * against the document URL, or against the first `<base href>`. Linear in the input: each
 * character is looked at a bounded number of times, whatever the markup (unclosed tags, `<a `
 * repeated, huge attributes).
 */
function collector(baseUrl: string, { accept, maxLinks = MAX_EXTRACTED_LINKS }: LinkExtractOptions): Collector {
  const cap = Math.max(0, Math.min(maxLinks, MAX_EXTRACTED_LINKS));
  const links = new Set<string>();
  const rejected = new Set<string>();
  let base = baseUrl;
  let baseSeen = false;
  const parser = new Parser(
    {
      onopentag(name, attribs) {
        const raw = attribs.href?.trim();
        if (raw === undefined || links.size >= cap) return;
        if (name === 'base') {
          if (!baseSeen) {
            baseSeen = true;
            try {
              base = new URL(raw, baseUrl).toString();
            } catch {
              // an invalid <base> is ignored, as browsers do
            }
          }
          return;
        }
        if ((name !== 'a' && name !== 'area') || raw === '' || raw.length > MAX_HREF_CHARS || raw.startsWith('#')) return;
        let url: URL;
        try {
          url = new URL(raw, base);
        } catch {
          return; // not a URL
        }
        if (url.protocol !== 'http:' && url.protocol !== 'https:') return;
        url.hash = '';
        const link = url.toString();
        if (links.has(link) || rejected.has(link)) return;
        if (accept && !accept(link)) {
          if (rejected.size < MAX_EXTRACTED_LINKS) rejected.add(link);
          return;
        }
        links.add(link);
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  return { parser, links, full: () => links.size >= cap };
}

/**
 * Every `href` of `<a>` and `<area>` in an HTML document, resolved against its URL (or its
 * `<base href>`); http(s) only, fragments dropped, order kept, no duplicates. Synchronous: for
 * documents from the network use extractLinksAsync, which does not hold the event loop.
 */
export function extractLinks(html: string, baseUrl: string, options: LinkExtractOptions = {}): string[] {
  const c = collector(baseUrl, options);
  c.parser.end(html);
  return [...c.links];
}

/**
 * extractLinks in slices of 64 Ki characters with a yield to the event loop after each, so an
 * 8 MiB listing never blocks downloads, heartbeats or the API for more than a few milliseconds.
 * Stops reading once `maxLinks` links are accepted.
 */
export async function extractLinksAsync(html: string, baseUrl: string, options: LinkExtractOptions = {}): Promise<string[]> {
  const c = collector(baseUrl, options);
  for (let offset = 0; offset < html.length && !c.full(); offset += CHUNK_CHARS) {
    c.parser.write(html.slice(offset, offset + CHUNK_CHARS));
    await yieldToLoop();
  }
  c.parser.end();
  return [...c.links];
}
