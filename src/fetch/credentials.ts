/**
 * Request headers that carry a credential for one origin. They are never sent to another origin:
 * not after a cross-origin redirect, not on a task a handler produced for another origin.
 * Lower case; header names compare case-insensitively.
 */
export const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization'] as const;

const credentialNames = new Set<string>(CREDENTIAL_HEADERS);

/** Whether a header name (any case) is one of the CREDENTIAL_HEADERS. */
export function isCredentialHeader(name: string): boolean {
  return credentialNames.has(name.toLowerCase());
}

/**
 * The origin (scheme, host, port; default ports normalised by WHATWG URL) of a URL, or undefined
 * when it does not parse or has an opaque origin.
 */
export function originOf(url: string | URL): string | undefined {
  try {
    const origin = (typeof url === 'string' ? new URL(url) : url).origin;
    return origin === 'null' ? undefined : origin;
  } catch {
    return undefined;
  }
}

/** True when both URLs parse and share scheme, host and port (`http://h` equals `http://h:80`). */
export function isSameOrigin(a: string | URL, b: string | URL): boolean {
  const left = originOf(a);
  return left !== undefined && left === originOf(b);
}

/** A copy of `headers` without the credential headers; the same object when it has none. */
export function withoutCredentials<H extends Record<string, string>>(headers: H): H;
export function withoutCredentials<H extends Record<string, string>>(headers: H | undefined): H | undefined;
export function withoutCredentials<H extends Record<string, string>>(headers: H | undefined): H | undefined {
  if (headers === undefined || !Object.keys(headers).some(isCredentialHeader)) return headers;
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !isCredentialHeader(name))) as H;
}

/** Something with a URL and optional request headers: a manifest resource or a download task. */
interface WithHeaders {
  url: string;
  headers?: Record<string, string>;
}

/**
 * The rule for tasks a handler's `expand` produced: a task keeps a credential header only when a
 * manifest resource of the same page, on the task's own origin, carries that header with the same
 * value. Anything else (a listing's cookie copied to a CDN link, a handler inventing credentials
 * for a foreign host) is dropped. Other headers are kept as the handler set them.
 */
export function restrictTaskCredentials<T extends WithHeaders>(tasks: readonly T[], resources: readonly WithHeaders[]): T[] {
  const granted = new Set<string>();
  for (const r of resources) {
    const origin = originOf(r.url);
    if (origin === undefined || !r.headers) continue;
    for (const [name, value] of Object.entries(r.headers)) {
      if (isCredentialHeader(name)) granted.add(`${origin}\n${name.toLowerCase()}\n${value}`);
    }
  }
  return tasks.map((task) => {
    if (!task.headers || !Object.keys(task.headers).some(isCredentialHeader)) return task;
    const origin = originOf(task.url);
    const headers = Object.fromEntries(
      Object.entries(task.headers).filter(
        ([name, value]) => !isCredentialHeader(name) || (origin !== undefined && granted.has(`${origin}\n${name.toLowerCase()}\n${value}`)),
      ),
    );
    const { headers: _, ...rest } = task;
    return (Object.keys(headers).length > 0 ? { ...rest, headers } : rest) as T;
  });
}
