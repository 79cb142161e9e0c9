/** The host (with port) of a URL, or '' when it does not parse: the key of per-host politeness. */
export function hostOf(url: string): string {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url);
  return (m?.[1] ?? '').replace(/^[^@]*@/, '').toLowerCase();
}
