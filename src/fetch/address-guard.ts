import ipaddr from 'ipaddr.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** A parsed `fetch.allowCidrs` list, checked for every address a fetch would connect to. */
export interface AddressGuard {
  /** Undefined when the address may be contacted, else the name of its refused range. */
  refusal(address: string): string | undefined;
}

/** Throws with the offending entry when an allow-list item is not a CIDR or an address. */
export function parseCidrs(cidrs: readonly string[]): [Address, number][] {
  return cidrs.map((cidr) => {
    try {
      if (cidr.includes('/')) return ipaddr.parseCIDR(cidr);
      const addr = ipaddr.parse(cidr);
      return [addr, addr.kind() === 'ipv4' ? 32 : 128];
    } catch {
      throw new Error(`fetch.allowCidrs: ${JSON.stringify(cidr)} is not a CIDR such as 10.0.0.0/8 or ::1/128`);
    }
  });
}

/**
 * Builds the SSRF guard. Only globally routable unicast addresses pass; everything ipaddr.js
 * classes otherwise (loopback, private, link-local and so cloud metadata, unique-local, CGNAT,
 * multicast, unspecified, reserved, documentation, 6to4/Teredo tunnels...) is refused unless
 * an allow-list CIDR covers it. IPv4-mapped IPv6 is judged as the IPv4 address it carries.
 */
export function createAddressGuard(allowCidrs: readonly string[]): AddressGuard {
  const allowed = parseCidrs(allowCidrs);
  return {
    refusal(address: string): string | undefined {
      let addr: Address;
      try {
        addr = ipaddr.parse(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
      } catch {
        return 'unparseable';
      }
      if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
        addr = (addr as ipaddr.IPv6).toIPv4Address();
      }
      for (const [net, bits] of allowed) {
        if (net.kind() === addr.kind() && addr.match(net, bits)) return undefined;
      }
      const range = addr.range();
      return range === 'unicast' ? undefined : range;
    },
  };
}
