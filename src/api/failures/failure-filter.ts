import type { ResourceState } from '../../workflows/job-types.js';
import type { FailureFilter } from './failure-views.js';

/** Strips the brackets of an IPv6 literal (`[::1]` → `::1`), so either spelling matches. */
function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * True when `url`'s host is `host`, case-insensitively: the name alone (`cdn.example.com`, any
 * port) or with its port (`cdn.example.com:8443`, `127.0.0.1:9000`, `[::1]:8080`: that port only).
 * An unparsable URL matches nothing.
 */
export function hostMatches(url: string, host: string): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const wanted = host.toLowerCase();
  const name = parsed.hostname.toLowerCase();
  // URL.host leaves out the scheme's default port; a filter naming it still matches.
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : parsed.protocol === 'http:' ? '80' : '');
  return wanted === name || bare(wanted) === bare(name) || wanted === `${name}:${port}`;
}

/** True for a failed resource state that passes the filter's resource-level parts (`kind`, `host`). */
export function failureMatches(state: ResourceState, filter: Pick<FailureFilter, 'kind' | 'host'>): boolean {
  if (state.status !== 'failed' || !state.error) return false;
  if (filter.kind !== undefined && state.error.kind !== filter.kind) return false;
  if (filter.host !== undefined && !hostMatches(state.url, filter.host)) return false;
  return true;
}
