// Which peers may put a PROXY protocol header in front of their connection (PROXY_PROTOCOL_FROM): the zone's load
// balancers, by address or CIDR. Only they: a header from anyone else would let that peer choose the address the
// per-address limits and the edge's authorize see.
import net from 'node:net';

export interface ProxyTrust {
  /** The entries as configured (for the startup log). */
  readonly entries: readonly string[];
  /** True when a connection from `address` must start with a PROXY header. */
  trusts(address: string | undefined): boolean;
}

/** Node shows IPv4 peers of a dual-stack listener as ::ffff:a.b.c.d; the rules are written with a.b.c.d. */
function unmapped(address: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return match ? match[1]! : address;
}

/** Parses "10.0.0.5, 10.1.0.0/16, fd00::/8"; empty = trust nobody (PROXY protocol off). Throws on a bad entry. */
export function proxyTrustFrom(text: string | undefined): ProxyTrust {
  const entries = (text ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address, prefix, extra] = entry.split('/');
    const family = net.isIP(address ?? '');
    if (!address || family === 0 || extra !== undefined) throw new Error(`PROXY_PROTOCOL_FROM: "${entry}" is not an address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) {
      list.addAddress(address, type);
      continue;
    }
    const bits = Number(prefix);
    if (!/^\d{1,3}$/.test(prefix) || bits > (family === 4 ? 32 : 128)) throw new Error(`PROXY_PROTOCOL_FROM: "${entry}" has a bad prefix length`);
    list.addSubnet(address, bits, type);
  }
  return {
    entries,
    trusts(address) {
      if (entries.length === 0 || !address) return false;
      const plain = unmapped(address);
      const family = net.isIP(plain);
      return family !== 0 && list.check(plain, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
