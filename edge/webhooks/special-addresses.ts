// Which IP addresses and host names can never be a customer's public webhook receiver: private, loopback, link-local,
// shared (CGNAT), reserved, documentation and multicast space in IPv4 and IPv6 (IPv4 embedded in IPv6 — mapped,
// NAT64, 6to4 — judged as the IPv4 it carries), cloud metadata hosts, and names that only mean something inside a
// network. Pure. It reads hosts as the WHATWG URL parser leaves them: IPv4 as a dotted quad whatever the input
// spelling (decimal, octal, hex, short), IPv6 compressed in lowercase hex, names lowercased and punycoded.

/** IPv4 special-purpose blocks (IANA registry, RFC 6890 and successors) that are not globally reachable receivers. */
const SPECIAL_IPV4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // RFC 1918
  ['100.64.0.0', 10], // shared address space (CGNAT); Alibaba's metadata 100.100.100.200
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local; AWS/GCP/Azure metadata 169.254.169.254
  ['172.16.0.0', 12], // RFC 1918
  ['192.0.0.0', 24], // IETF protocol assignments; Oracle's metadata 192.0.0.192
  ['192.0.2.0', 24], // TEST-NET-1
  ['192.31.196.0', 24], // AS112
  ['192.52.193.0', 24], // AMT
  ['192.88.99.0', 24], // 6to4 relay anycast (deprecated)
  ['192.168.0.0', 16], // RFC 1918
  ['192.175.48.0', 24], // AS112 direct delegation
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // TEST-NET-2
  ['203.0.113.0', 24], // TEST-NET-3
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and 255.255.255.255 broadcast
];

const toUint32 = (octets: readonly number[]): number => ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;

const SPECIAL_IPV4_RANGES = SPECIAL_IPV4.map(([base, bits]) => {
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return { network: (toUint32(base.split('.').map(Number)) & mask) >>> 0, mask };
});

/** The four octets of a dotted-quad IPv4 address, or null. */
export function parseIpv4(text: string): number[] | null {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const octets = parts.map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

export function isSpecialIpv4(octets: readonly number[]): boolean {
  const address = toUint32(octets);
  return SPECIAL_IPV4_RANGES.some(({ network, mask }) => ((address & mask) >>> 0) === network);
}

/** The eight 16-bit pieces of an IPv6 address (without brackets; `::` and a dotted IPv4 tail allowed), or null. */
export function parseIpv6(text: string): number[] | null {
  let body = text;
  const lastColon = body.lastIndexOf(':');
  if (lastColon >= 0 && body.slice(lastColon + 1).includes('.')) {
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (!v4) return null;
    const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
    body = `${body.slice(0, lastColon + 1)}${hex(v4[0]!, v4[1]!)}:${hex(v4[2]!, v4[3]!)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const piece = (group: string) => (/^[0-9a-f]{1,4}$/i.test(group) ? parseInt(group, 16) : NaN);
  const groups = (half: string) => (half === '' ? [] : half.split(':').map(piece));
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const known = left.length + right.length;
  if ([...left, ...right].some(Number.isNaN)) return null;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  return [...left, ...new Array<number>(8 - known).fill(0), ...right];
}

const embeddedIpv4 = (high: number, low: number): number[] => [high >> 8, high & 0xff, low >> 8, low & 0xff];

/**
 * Only global unicast (2000::/3) can be a receiver, less its special blocks; NAT64 (64:ff9b::/96) and 6to4
 * (2002::/16) count as the IPv4 address they carry. Everything else — unspecified, loopback, IPv4-mapped,
 * -compatible and -translated, discard, unique-local (fc00::/7, AWS's metadata fd00:ec2::254), link-local, site-local,
 * multicast — is refused.
 */
export function isSpecialIpv6(p: readonly number[]): boolean {
  const [p0, p1, p2, p3, p4, p5, p6, p7] = p as [number, number, number, number, number, number, number, number];
  if (p0 === 0x64 && p1 === 0xff9b && p2 === 0 && p3 === 0 && p4 === 0 && p5 === 0) {
    return isSpecialIpv4(embeddedIpv4(p6, p7));
  }
  if ((p0 & 0xe000) !== 0x2000) return true;
  if (p0 === 0x2001 && p1 < 0x200) return true; // IETF protocol assignments: Teredo, benchmarking, ORCHID…
  if (p0 === 0x2001 && p1 === 0x0db8) return true; // documentation
  if (p0 === 0x3fff && p1 < 0x1000) return true; // documentation (3fff::/20)
  if (p0 === 0x2002) return isSpecialIpv4(embeddedIpv4(p1, p2));
  return false;
}

/** Names that reach a cloud provider's instance metadata service from inside its network. */
export const METADATA_HOSTS: ReadonlySet<string> = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.azure.com',
  'metadata.azure.internal',
  'metadata.tencentyun.com',
  'metadata.oraclecloud.com',
  'metadata.platformequinix.com',
]);

/** Top-level names that are never delegated on the public Internet (RFC 6761/6762/8375, and common private use). */
const LOCAL_TOP_LEVEL = new Set(['localhost', 'local', 'internal', 'localdomain', 'arpa', 'lan', 'home', 'corp', 'intranet', 'private', 'svc']);

export type HostKind = 'public' | 'special-address' | 'metadata' | 'local-name';

/** Classifies a URL's `hostname` (as `new URL()` leaves it). */
export function classifyHost(hostname: string): HostKind {
  if (hostname.startsWith('[') && hostname.endsWith(']')) {
    const pieces = parseIpv6(hostname.slice(1, -1));
    return !pieces || isSpecialIpv6(pieces) ? 'special-address' : 'public';
  }
  const v4 = parseIpv4(hostname);
  if (v4) return isSpecialIpv4(v4) ? 'special-address' : 'public';
  // "localhost." and "localhost" are the same name to a resolver.
  const name = hostname.toLowerCase().replace(/\.+$/, '');
  if (METADATA_HOSTS.has(name)) return 'metadata';
  const labels = name.split('.');
  if (labels.length < 2 || LOCAL_TOP_LEVEL.has(labels[labels.length - 1]!)) return 'local-name';
  return 'public';
}
