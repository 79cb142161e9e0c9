import { defineHandler, safeName, urlFileName } from './handler.js';
import type { DownloadTask } from '../workflows/job-types.js';

/** Links one listing page may contribute, unless `metadata.maxLinks` says otherwise. */
const DEFAULT_MAX_LINKS = 1_000;

/** Every `href` of an HTML document, resolved against its URL; fragments dropped, order kept, no duplicates. */
export function extractLinks(html: string, base: string): string[] {
  const seen = new Set<string>();
  for (const match of html.matchAll(/<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))/gi)) {
    const raw = (match[1] ?? match[2] ?? match[3] ?? '').trim();
    if (raw === '' || raw.startsWith('#') || /^(mailto|javascript|data):/i.test(raw)) continue;
    try {
      const url = new URL(raw.replace(/&amp;/g, '&'), base);
      url.hash = '';
      if (url.protocol === 'http:' || url.protocol === 'https:') seen.add(url.toString());
    } catch {
      // not a URL: skip it
    }
  }
  return [...seen];
}

/**
 * The sample handler: each manifest resource is a listing page (an HTML directory index, a
 * gallery, a release page); the handler fetches it and downloads the files it links to.
 *
 * Manifest metadata it reads:
 * - `linkPattern`: a regular expression a link must match (default: any link below the listing
 *   page's own directory, the usual "files of this folder" case);
 * - `maxLinks`: most links taken per listing (default 1,000).
 *
 * Files are stored as `<jobId>/<listing id>/<file name>`; the listing's own headers (cookies,
 * referer) are sent with every file request, plus `Referer: <listing URL>`.
 */
export const linkExpanderHandler = defineHandler({
  name: 'link-expander',
  description: 'Fetches each resource as a listing page and downloads the files it links to.',
  async expand(resources, ctx) {
    const pattern = typeof ctx.metadata.linkPattern === 'string' ? new RegExp(ctx.metadata.linkPattern) : undefined;
    const maxLinks = typeof ctx.metadata.maxLinks === 'number' ? ctx.metadata.maxLinks : DEFAULT_MAX_LINKS;
    const tasks: DownloadTask[] = [];
    for (const listing of resources) {
      const page = await ctx.fetchText(listing.url, listing.headers ? { headers: listing.headers } : undefined);
      const folder = page.url.slice(0, page.url.lastIndexOf('/') + 1);
      const links = extractLinks(page.text, page.url)
        .filter((link) => (pattern ? pattern.test(link) : link.startsWith(folder) && link !== folder && !link.endsWith('/')))
        .slice(0, maxLinks);
      const usedNames = new Set<string>();
      for (const [n, link] of links.entries()) {
        let name = safeName(urlFileName(link)) || `file-${n}`;
        if (usedNames.has(name)) name = `${n}-${name}`;
        usedNames.add(name);
        tasks.push({
          id: `${listing.id}/${n}`,
          url: link,
          key: listing.key ? `${listing.key.replace(/\/+$/, '')}/${name}` : `${ctx.jobId}/${safeName(listing.id) || 'listing'}/${name}`,
          headers: { ...listing.headers, Referer: page.url },
        });
      }
    }
    return tasks;
  },
});
