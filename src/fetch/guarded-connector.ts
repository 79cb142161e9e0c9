import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { buildConnector } from 'undici';
import type { AddressGuard } from './address-guard.js';
import { BlockedAddressError } from './errors.js';

/**
 * Resolves the host and refuses blocked addresses before a socket is opened, so a refused
 * address never sees a SYN. Literal IPs skip DNS in undici, so they are checked here too.
 */
export function guardedConnector(guard: AddressGuard, connectTimeoutMs: number): buildConnector.connector {
  const base = buildConnector({ timeout: connectTimeoutMs });
  return (options, callback) => {
    const host = options.hostname.replace(/^\[|\]$/g, '');
    const connectTo = (address: string) => {
      base(
        { ...options, hostname: address, servername: options.servername ?? (isIP(host) ? undefined : host) } as typeof options,
        callback,
      );
    };
    if (isIP(host)) {
      const range = guard.refusal(host);
      if (range !== undefined) return callback(new BlockedAddressError(host, host, range), null);
      return connectTo(host);
    }
    lookup(host, { all: true, verbatim: true }).then(
      (addresses) => {
        for (const { address } of addresses) {
          const range = guard.refusal(address);
          if (range !== undefined) return callback(new BlockedAddressError(host, address, range), null);
        }
        const first = addresses[0];
        if (!first) return callback(new Error(`DNS returned no address for ${host}`), null);
        connectTo(first.address);
      },
      (err: Error) => callback(err, null),
    );
  };
}
