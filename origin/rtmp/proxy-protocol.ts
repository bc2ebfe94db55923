// The PROXY protocol header (HAProxy's spec, v1 text and v2 binary) a trusted load balancer puts in front of a TCP
// connection so the origin learns the encoder's address instead of the balancer's. Pure and incremental: hand it the
// bytes received so far; it answers "need more", "malformed" or the header's length and the address it carries.
// Bounded: no header of ours is longer than PROXY_HEADER_MAX_BYTES, so a caller never buffers more than that.
import net from 'node:net';

/** v1 lines are at most 107 bytes, CRLF included (spec 2.1). */
export const PROXY_V1_MAX_BYTES = 107;
/** v2: 16-byte fixed part + 216 bytes, the largest address block (two UNIX paths); TLVs must fit in it too. */
export const PROXY_HEADER_MAX_BYTES = 16 + 216;

export const PROXY_V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');

/** Where the connection really comes from; null when the header says to keep the socket's own (LOCAL, UNKNOWN, UNSPEC). */
export interface ProxySource {
  address: string;
  port: number;
}

export type ProxyHeaderResult =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  | { kind: 'header'; version: 1 | 2; length: number; source: ProxySource | null };

const INCOMPLETE: ProxyHeaderResult = { kind: 'incomplete' };
const invalid = (reason: string): ProxyHeaderResult => ({ kind: 'invalid', reason });

/** True while `bytes` could still be the start of `prefix` (or already holds all of it). */
function startsLike(bytes: Buffer, prefix: Buffer): boolean {
  const n = Math.min(bytes.length, prefix.length);
  return bytes.subarray(0, n).equals(prefix.subarray(0, n));
}

/** Parses the header at the start of `bytes` (what arrived so far). Never throws. */
export function parseProxyHeader(bytes: Buffer): ProxyHeaderResult {
  if (bytes.length === 0) return INCOMPLETE;
  if (startsLike(bytes, PROXY_V2_SIGNATURE)) return bytes.length < 16 ? INCOMPLETE : parseV2(bytes);
  if (startsLike(bytes, V1_PREFIX)) return parseV1(bytes);
  return invalid('no PROXY protocol signature');
}

function parseV1(bytes: Buffer): ProxyHeaderResult {
  const end = bytes.subarray(0, PROXY_V1_MAX_BYTES).indexOf('\r\n');
  if (end < 0) return bytes.length >= PROXY_V1_MAX_BYTES ? invalid('v1 line longer than 107 bytes') : INCOMPLETE;
  const line = bytes.subarray(0, end).toString('latin1');
  const length = end + 2;
  const parts = line.split(' ');
  // "PROXY UNKNOWN" may carry anything after it (spec 2.1): the receiver keeps the socket's addresses.
  if (parts[1] === 'UNKNOWN') return { kind: 'header', version: 1, length, source: null };
  if (parts.length !== 6) return invalid('v1 line must have 6 fields');
  const [, family, source, destination, sourcePort, destinationPort] = parts as [string, string, string, string, string, string];
  const family4 = family === 'TCP4';
  if (!family4 && family !== 'TCP6') return invalid('v1 family must be TCP4, TCP6 or UNKNOWN');
  const isIp = family4 ? net.isIPv4 : net.isIPv6;
  if (!isIp(source) || !isIp(destination)) return invalid(`v1 addresses are not ${family} addresses`);
  const port = v1Port(sourcePort);
  if (port === null || v1Port(destinationPort) === null) return invalid('v1 ports must be decimal 0-65535');
  return { kind: 'header', version: 1, length, source: { address: family4 ? source : formatIPv6(ipv6Bytes(source)), port } };
}

function v1Port(text: string): number | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

function parseV2(bytes: Buffer): ProxyHeaderResult {
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 2) return invalid('v2 version must be 2');
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid('v2 command must be LOCAL or PROXY');
  const addressLength = bytes.readUInt16BE(14);
  const length = 16 + addressLength;
  if (length > PROXY_HEADER_MAX_BYTES) return invalid(`v2 header longer than ${PROXY_HEADER_MAX_BYTES} bytes`);
  if (bytes.length < length) return INCOMPLETE;
  // LOCAL: the balancer's own connection (a health check); whatever follows is skipped, the socket's address kept.
  if (command === 0) return { kind: 'header', version: 2, length, source: null };
  const familyProtocol = bytes[13]!;
  const block = bytes.subarray(16, length);
  // UNSPEC: the sender does not know the source; the spec says to keep the socket's addresses.
  if (familyProtocol === 0x00) return { kind: 'header', version: 2, length, source: null };
  if (familyProtocol === 0x11) {
    if (block.length < 12) return invalid('v2 TCP over IPv4 needs 12 address bytes');
    return { kind: 'header', version: 2, length, source: { address: [...block.subarray(0, 4)].join('.'), port: block.readUInt16BE(8) } };
  }
  if (familyProtocol === 0x21) {
    if (block.length < 36) return invalid('v2 TCP over IPv6 needs 36 address bytes');
    return { kind: 'header', version: 2, length, source: { address: formatIPv6(block.subarray(0, 16)), port: block.readUInt16BE(32) } };
  }
  // TLVs after the addresses are skipped: `length` covers them. UDP and UNIX sources are not ours to carry.
  return invalid('v2 family must be TCP over IPv4 or IPv6');
}

/** 16 bytes of an IPv6 address from its text (already checked with net.isIPv6); an embedded IPv4 tail allowed. */
function ipv6Bytes(text: string): Buffer {
  const out = Buffer.alloc(16);
  let head = text;
  let tail: number[] = [];
  const dotted = text.lastIndexOf(':');
  if (text.includes('.')) {
    const v4 = text.slice(dotted + 1).split('.').map(Number);
    head = text.slice(0, dotted + 1) + '0:0';
    tail = v4;
  }
  const [left, right] = head.includes('::') ? (head.split('::') as [string, string]) : [head, undefined];
  const groups = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const leftGroups = groups(left);
  const rightGroups = right === undefined ? [] : groups(right);
  const all = [...leftGroups, ...new Array(8 - leftGroups.length - rightGroups.length).fill(0), ...rightGroups];
  all.forEach((group, i) => out.writeUInt16BE(group, i * 2));
  if (tail.length === 4) tail.forEach((b, i) => (out[12 + i] = b));
  return out;
}

/** RFC 5952 text of 16 address bytes: lower case, no leading zeros, the longest run of two or more zero groups as "::". */
export function formatIPv6(bytes: Buffer): string {
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [bestStart, bestLength] = [i, j - i];
    i = j;
  }
  const hex = (list: number[]) => list.map((g) => g.toString(16)).join(':');
  // IPv4-mapped addresses keep their dotted tail, as Node shows them (::ffff:1.2.3.4).
  if (bestStart === 0 && bestLength === 5 && groups[5] === 0xffff) return `::ffff:${[...bytes.subarray(12, 16)].join('.')}`;
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLength))}`;
}
