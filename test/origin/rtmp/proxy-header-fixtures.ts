// PROXY protocol headers as a load balancer writes them (HAProxy's spec), for the parser's and the server's tests:
// written here from the spec, independently of origin/rtmp/proxy-protocol.ts.
import net from 'node:net';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** "PROXY TCP4 src dst sport dport\r\n" (TCP6 for IPv6 addresses). */
export function proxyV1(source: string, destination: string, sourcePort: number, destinationPort: number): Buffer {
  const family = net.isIPv6(source) ? 'TCP6' : 'TCP4';
  return Buffer.from(`PROXY ${family} ${source} ${destination} ${sourcePort} ${destinationPort}\r\n`, 'latin1');
}

function addressBytes(address: string): Buffer {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  // Expand "::" and an embedded IPv4 tail into 8 groups.
  let text = address;
  if (text.includes('.')) {
    const i = text.lastIndexOf(':');
    const [a, b, c, d] = text.slice(i + 1).split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, i + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [left = '', right] = text.split('::');
  const l = left ? left.split(':') : [];
  const r = right ? right.split(':') : [];
  const groups = right === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** v2 PROXY (or LOCAL) over TCP; `tlvs` appended after the addresses as they would be. */
export function proxyV2(
  source: string,
  destination: string,
  sourcePort: number,
  destinationPort: number,
  options: { command?: 'PROXY' | 'LOCAL'; tlvs?: Buffer } = {},
): Buffer {
  const v6 = net.isIPv6(source);
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(sourcePort, 0);
  ports.writeUInt16BE(destinationPort, 2);
  const block = Buffer.concat([addressBytes(source), addressBytes(destination), ports, options.tlvs ?? Buffer.alloc(0)]);
  const fixed = Buffer.alloc(4);
  fixed[0] = options.command === 'LOCAL' ? 0x20 : 0x21;
  fixed[1] = v6 ? 0x21 : 0x11;
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIGNATURE, fixed, block]);
}
