// A team's handler, outside the FetchBox repository. Plain JavaScript: the JSDoc types come from
// the `fetchbox` package (`tsc -p .` checks them); a TypeScript project writes the same with types.
import { defineHandler, safeName, urlFileName } from 'fetchbox';

/**
 * Catalog downloads: each request carries the team's token (`ctx.settings.token`, set by the
 * operator as FETCHBOX_HANDLER_CATALOG_TOKEN), objects go under `catalog/<jobId>/` named by the
 * resource id and the URL's extension, tagged with the crawl's `metadata.source`.
 */
export const catalogHandler = defineHandler({
  name: 'catalog',
  description: 'Catalog files with the team token, under catalog/<jobId>/.',
  headers(_task, ctx) {
    const token = ctx.settings.token;
    // A hook that throws fails its resource (error.kind "handler") with this message.
    if (!token) throw new Error('no token: set FETCHBOX_HANDLER_CATALOG_TOKEN');
    return { Authorization: `Bearer ${token}` };
  },
  storageKey(resource, ctx) {
    const extension = /\.[A-Za-z0-9]{1,8}$/.exec(urlFileName(resource.url))?.[0] ?? '';
    return `catalog/${ctx.jobId}/${safeName(resource.id)}${extension}`;
  },
  objectOptions(_task, _response, ctx) {
    const source = typeof ctx.metadata.source === 'string' ? ctx.metadata.source : 'unknown';
    return { metadata: { source: safeName(source) } };
  },
  policy: { concurrency: 4, retry: { maximumAttempts: 3 } },
});

export default catalogHandler;
