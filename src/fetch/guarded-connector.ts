import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import type { AddressGuard } from './address-guard.js';
import { BlockedAddressError } from './errors.js';

/**
 * The addresses `host` (a name, or a literal IP with or without brackets) resolves to, each
 * checked by the guard: a refused one throws BlockedAddressError, a failed lookup throws as DNS
 * answered. Literal IPs skip DNS. The one rule for "may FetchBox connect to this host", shared by
 * {@link guardedConnector} and the fetcher's check of a target it sends through a proxy.
 */
export async function allowedAddresses(guard: AddressGuard, host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  const addresses = isIP(bare) ? [bare] : (await lookup(bare, { all: true, verbatim: true })).map((a) => a.address);
  for (const address of addresses) {
    const range = guard.refusal(address);
    if (range !== undefined) throw new BlockedAddressError(bare, address, range);
  }
  return addresses;
}

/**
 * undici's connector with the guard in it: resolves the host and refuses blocked addresses before
 * a socket is opened, so a refused address never sees a SYN. Literal IPs skip DNS in undici, so
 * they are checked here too. Connects to the first address.
 */
export function guardedConnector(guard: AddressGuard, connectTimeoutMs: number): buildConnector.connector {
  const base = buildConnector({ timeout: connectTimeoutMs });
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, '');
    allowedAddresses(guard, host).then(
      (addresses) => {
        const first = addresses[0];
        if (!first) return callback(new Error(`DNS returned no address for ${host}`), null);
        base(
          { ...options, hostname: first, servername: options.servername ?? (isIP(host) ? undefined : host) } as typeof options,
          callback,
        );
      },
      (err: Error) => callback(err, null),
    );
  };
}
