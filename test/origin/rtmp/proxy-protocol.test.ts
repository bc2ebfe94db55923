// The PROXY protocol parser (origin/rtmp/proxy-protocol.ts) and the trusted-balancer list (proxy-trust.ts): byte
// fixtures from the spec, then properties — generated headers round-trip at every chunking, and arbitrary bytes never
// throw nor make the parser wait past PROXY_HEADER_MAX_BYTES.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PROXY_HEADER_MAX_BYTES, formatIPv6, parseProxyHeader } from '../../../origin/rtmp/proxy-protocol.ts';
import { proxyTrustFrom } from '../../../origin/rtmp/proxy-trust.ts';
import { proxyV1, proxyV2 } from './proxy-header-fixtures.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** Canonical IPv6 text by an independent route (WHATWG URL), IPv4-mapped tails written dotted as Node does. */
function canonicalIPv6(address: string): string {
  const host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const [a, b] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `::ffff:${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
}

describe('parseProxyHeader: fixtures', () => {
  it('reads a v1 TCP4 line and tells where the RTMP bytes start', () => {
    const header = bytes('PROXY TCP4 192.0.2.10 203.0.113.5 56324 1935\r\n');
    const result = parseProxyHeader(Buffer.concat([header, Buffer.from([3, 0, 0])]));
    expect(result).toEqual({ kind: 'header', version: 1, length: header.length, source: { address: '192.0.2.10', port: 56324 } });
  });

  it('reads a v1 TCP6 line, the address in canonical form', () => {
    const result = parseProxyHeader(bytes('PROXY TCP6 2001:DB8:0:0:0:0:0:1 2001:db8::2 4000 1935\r\n'));
    expect(result).toMatchObject({ kind: 'header', source: { address: '2001:db8::1', port: 4000 } });
  });

  it('v1 UNKNOWN keeps the socket address', () => {
    expect(parseProxyHeader(bytes('PROXY UNKNOWN\r\n'))).toEqual({ kind: 'header', version: 1, length: 15, source: null });
    expect(parseProxyHeader(bytes('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'))).toMatchObject({ source: null });
  });

  it('reads a v2 PROXY TCP over IPv4 header (hand-written bytes)', () => {
    const header = hex('0d0a0d0a000d0a515549540a 21 11 000c c0000201 cb007105 dc04 078f');
    expect(parseProxyHeader(header)).toEqual({ kind: 'header', version: 2, length: 28, source: { address: '192.0.2.1', port: 56324 } });
  });

  it('reads a v2 TCP over IPv6 header and skips its TLVs', () => {
    // TLV PP2_TYPE_AUTHORITY ("origin") and a NOOP, as HAProxy's proxy-v2-options would add.
    const tlvs = Buffer.concat([hex('02 0006'), bytes('origin'), hex('04 0002 0000')]);
    const header = proxyV2('2001:db8::7', '2001:db8::1', 1234, 1935, { tlvs });
    const result = parseProxyHeader(Buffer.concat([header, Buffer.from([3])]));
    expect(result).toEqual({ kind: 'header', version: 2, length: header.length, source: { address: '2001:db8::7', port: 1234 } });
  });

  it('v2 LOCAL (the balancer speaking for itself) and UNSPEC keep the socket address', () => {
    expect(parseProxyHeader(proxyV2('10.0.0.1', '10.0.0.2', 1, 2, { command: 'LOCAL' }))).toMatchObject({ kind: 'header', source: null });
    expect(parseProxyHeader(hex('0d0a0d0a000d0a515549540a 20 00 0000'))).toEqual({ kind: 'header', version: 2, length: 16, source: null });
    expect(parseProxyHeader(hex('0d0a0d0a000d0a515549540a 21 00 0000'))).toEqual({ kind: 'header', version: 2, length: 16, source: null });
  });

  it('waits for the rest of a header cut anywhere', () => {
    for (const header of [proxyV1('198.51.100.3', '10.0.0.1', 5000, 1935), proxyV2('198.51.100.3', '10.0.0.1', 5000, 1935)]) {
      for (let n = 0; n < header.length; n++) expect(parseProxyHeader(header.subarray(0, n))).toEqual({ kind: 'incomplete' });
    }
  });

  it.each([
    ['RTMP C0+C1 (what an untrusted encoder sends)', Buffer.concat([Buffer.from([3]), Buffer.alloc(20)])],
    ['a lower-case v1 prefix', bytes('proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n')],
    ['a v1 family we do not carry', bytes('PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n')],
    ['a v1 address of the wrong family', bytes('PROXY TCP4 ::1 5.6.7.8 1 2\r\n')],
    ['a v1 address that is not one', bytes('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n')],
    ['a v1 port out of range', bytes('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n')],
    ['a v1 port with a leading zero', bytes('PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n')],
    ['a v1 line with a field missing', bytes('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n')],
    ['a v1 line with a double space', bytes('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n')],
    ['a v1 line without CRLF in 107 bytes', bytes(`PROXY TCP4 ${'1'.repeat(110)}`)],
    ['a v2 version 1', hex('0d0a0d0a000d0a515549540a 11 11 000c c0000201 cb007105 dc04 078f')],
    ['a v2 command 2', hex('0d0a0d0a000d0a515549540a 22 11 000c c0000201 cb007105 dc04 078f')],
    ['a v2 UDP source', hex('0d0a0d0a000d0a515549540a 21 12 000c c0000201 cb007105 dc04 078f')],
    ['a v2 UNIX source', hex('0d0a0d0a000d0a515549540a 21 31 000c c0000201 cb007105 dc04 078f')],
    ['a v2 IPv4 block too short', hex('0d0a0d0a000d0a515549540a 21 11 0008 c0000201 cb007105')],
    ['a v2 IPv6 block too short', hex('0d0a0d0a000d0a515549540a 21 21 000c c0000201 cb007105 dc04 078f')],
    ['a v2 header longer than the bound', hex('0d0a0d0a000d0a515549540a 21 11 00d9')],
  ])('refuses %s at once', (_name, input) => {
    expect(parseProxyHeader(input)).toMatchObject({ kind: 'invalid' });
  });

  it('accepts a v2 header of exactly the bound', () => {
    const header = proxyV2('192.0.2.1', '192.0.2.2', 1, 2, { tlvs: Buffer.concat([hex('04 00c9'), Buffer.alloc(201)]) });
    expect(header.length).toBe(PROXY_HEADER_MAX_BYTES);
    expect(parseProxyHeader(header)).toMatchObject({ kind: 'header', length: PROXY_HEADER_MAX_BYTES });
  });

  it('writes IPv6 addresses as RFC 5952 says', () => {
    expect(formatIPv6(hex('20010db8000000000001000000000001'))).toBe('2001:db8::1:0:0:1');
    expect(formatIPv6(hex('20010db8000000010001000100010001'))).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIPv6(hex('00000000000000000000000000000000'))).toBe('::');
    expect(formatIPv6(hex('00000000000000000000ffffc0000201'))).toBe('::ffff:192.0.2.1');
  });
});

describe('parseProxyHeader: properties', () => {
  const port = fc.integer({ min: 0, max: 65535 });
  const v4 = fc.record({ source: fc.ipV4(), destination: fc.ipV4(), sourcePort: port, destinationPort: port });
  const v6 = fc.record({ source: fc.ipV6(), destination: fc.ipV6(), sourcePort: port, destinationPort: port });
  const header = fc.oneof(v4, v6).chain((a) =>
    fc.constantFrom('v1', 'v2').map((version) => ({
      ...a,
      bytes: version === 'v1' ? proxyV1(a.source, a.destination, a.sourcePort, a.destinationPort) : proxyV2(a.source, a.destination, a.sourcePort, a.destinationPort),
    })),
  );

  it('a generated header round-trips, whatever follows it and however it is cut', () => {
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 64 }), fc.nat(), (h, after, cutAt) => {
        const all = Buffer.concat([h.bytes, after]);
        const expected = h.source.includes(':') ? canonicalIPv6(h.source) : h.source;
        expect(parseProxyHeader(all)).toMatchObject({ kind: 'header', length: h.bytes.length, source: { address: expected, port: h.sourcePort } });
        expect(parseProxyHeader(all.subarray(0, cutAt % h.bytes.length))).toEqual({ kind: 'incomplete' });
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary bytes never throw, and never keep the parser waiting past the bound', () => {
    const signatureStart = fc.constantFrom(Buffer.alloc(0), bytes('PROXY '), bytes('PROXY TCP4 '), hex('0d0a0d0a000d0a515549540a'), hex('0d0a0d0a000d0a515549540a21'));
    fc.assert(
      fc.property(signatureStart, fc.uint8Array({ maxLength: 400 }), (start, tail) => {
        const input = Buffer.concat([start, tail]);
        const result = parseProxyHeader(input);
        if (result.kind === 'incomplete') expect(input.length).toBeLessThan(PROXY_HEADER_MAX_BYTES);
        if (result.kind === 'header') {
          expect(result.length).toBeLessThanOrEqual(Math.min(PROXY_HEADER_MAX_BYTES, input.length));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('proxyTrustFrom (PROXY_PROTOCOL_FROM)', () => {
  it('empty trusts nobody', () => {
    expect(proxyTrustFrom(undefined).trusts('127.0.0.1')).toBe(false);
    expect(proxyTrustFrom(' ').trusts('127.0.0.1')).toBe(false);
  });

  it('matches addresses and CIDRs of both families, IPv4-mapped peers included', () => {
    const trust = proxyTrustFrom('10.0.0.5, 192.168.0.0/16,fd00::/8');
    expect(trust.entries).toEqual(['10.0.0.5', '192.168.0.0/16', 'fd00::/8']);
    expect(trust.trusts('10.0.0.5')).toBe(true);
    expect(trust.trusts('::ffff:10.0.0.5')).toBe(true);
    expect(trust.trusts('10.0.0.6')).toBe(false);
    expect(trust.trusts('192.168.44.1')).toBe(true);
    expect(trust.trusts('fd12::1')).toBe(true);
    expect(trust.trusts('fe80::1')).toBe(false);
    expect(trust.trusts(undefined)).toBe(false);
  });

  it.each(['10.0.0', 'example.com', '10.0.0.0/33', '10.0.0.0/8/1', '::/129', '10.0.0.0/x'])('refuses "%s"', (entry) => {
    expect(() => proxyTrustFrom(entry)).toThrow(/PROXY_PROTOCOL_FROM/);
  });
});
