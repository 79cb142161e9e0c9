import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Parser } from 'htmlparser2';
import { RE2JS } from 're2js';
import { headersForOrigin, refererFor } from '../fetch/origin-headers.js';
import { defineHandler, safeName, urlFileName } from './handler.js';
import type { DownloadTask } from '../model/job-types.js';

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

/** Links one listing page may contribute, unless `metadata.maxLinks` says otherwise. */
const DEFAULT_MAX_LINKS = 1_000;
/** Most links one listing page contributes, whatever `metadata.maxLinks` says. */
export const MAX_LINKS_PER_LISTING = 10_000;
/** Longest `metadata.linkPattern` accepted. */
const MAX_PATTERN_CHARS = 1_024;

/** `metadata.maxLinks` as a whole number in [1, MAX_LINKS_PER_LISTING], or the default. */
export function clampMaxLinks(value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) return DEFAULT_MAX_LINKS;
  return Math.min(Math.max(1, Math.floor(value)), MAX_LINKS_PER_LISTING);
}

/**
 * `metadata.linkPattern` compiled with RE2 (re2js): matching is linear in the link, so no pattern
 * can stall the worker (`^(a+)+$` included). Patterns RE2 does not support (backreferences,
 * lookaround) or that do not parse fail the listing with a message saying why.
 */
export function compileLinkPattern(value: unknown): RE2JS | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new Error('metadata.linkPattern must be a string (an RE2 regular expression)');
  if (value.length > MAX_PATTERN_CHARS) throw new Error(`metadata.linkPattern is longer than ${MAX_PATTERN_CHARS} characters`);
  try {
    return RE2JS.compile(value);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`metadata.linkPattern is not a valid RE2 pattern (no backreferences or lookaround): ${reason}`, { cause: err });
  }
}

/**
 * A link's request headers: the listing's, as they may go to the link's origin (headersForOrigin),
 * with the listing's `Referer` replaced by the page's URL as refererFor gives it for the link.
 */
function linkHeaders(
  listingHeaders: Record<string, string> | undefined,
  listingUrl: string,
  pageUrl: string,
  link: string,
): Record<string, string> {
  const own = Object.entries(headersForOrigin(listingHeaders ?? {}, listingUrl, link)).filter(([name]) => name.toLowerCase() !== 'referer');
  const referer = refererFor(pageUrl, link);
  return Object.fromEntries(referer === undefined ? own : [...own, ['Referer', referer]]);
}

/**
 * The sample handler: each manifest resource is a listing page (an HTML directory index, a
 * gallery, a release page); the handler fetches it and downloads the files it links to.
 *
 * Manifest metadata it reads:
 * - `linkPattern`: an RE2 regular expression a link must match anywhere (default: any link below
 *   the listing page's own directory, the usual "files of this folder" case);
 * - `maxLinks`: most links taken per listing (default 1,000, at most 10,000).
 *
 * Files are stored as `<jobId>/<listing id>/<file name>`. Links on the listing's own origin get
 * the listing's headers; links on other origins only its non-secret ones (`User-Agent`, `Accept`,
 * ...: origin-headers.ts). Every link gets `Referer: <listing URL>`, cut to the listing's origin
 * for a link on another origin (none from https to http).
 */
export const linkExpanderHandler = defineHandler({
  name: 'link-expander',
  description: 'Fetches each resource as a listing page and downloads the files it links to.',
  async expand(resources, ctx) {
    const pattern = compileLinkPattern(ctx.metadata.linkPattern);
    const maxLinks = clampMaxLinks(ctx.metadata.maxLinks);
    const tasks: DownloadTask[] = [];
    for (const listing of resources) {
      const page = await ctx.fetchText(listing.url, listing.headers ? { headers: listing.headers } : undefined);
      const folder = page.url.slice(0, page.url.lastIndexOf('/') + 1);
      const links = await extractLinksAsync(page.text, page.url, {
        maxLinks,
        accept: (link) => (pattern ? pattern.test(link) : link.startsWith(folder) && link !== folder && !link.endsWith('/')),
      });
      const usedNames = new Set<string>();
      for (const [n, link] of links.entries()) {
        let name = safeName(urlFileName(link)) || `file-${n}`;
        if (usedNames.has(name)) name = `${n}-${name}`;
        usedNames.add(name);
        tasks.push({
          id: `${listing.id}/${n}`,
          url: link,
          key: listing.key ? `${listing.key.replace(/\/+$/, '')}/${name}` : `${ctx.jobId}/${safeName(listing.id) || 'listing'}/${name}`,
          headers: linkHeaders(listing.headers, listing.url, page.url, link),
        });
      }
    }
    return tasks;
  },
});
