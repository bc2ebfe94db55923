// Server handshake: byte layout of S0/S1/S2, arbitrary splits, and the byte budget (surplus handed on).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RtmpProtocolError } from '../../../origin/rtmp/chunk-reader.ts';
import { HANDSHAKE_CLIENT_BYTES, HANDSHAKE_PACKET_SIZE, ServerHandshake } from '../../../origin/rtmp/handshake.ts';
import { clientHandshake, hex, splitAt } from './fixtures.ts';

const filler = (size: number): Buffer => Buffer.alloc(size, 0xab);

describe('ServerHandshake', () => {
  it('answers C0+C1 with S0, a plain S1 and S2 echoing C1', () => {
    const { c0c1 } = clientHandshake();
    const hs = new ServerHandshake({ randomBytes: filler });
    const step = hs.feed(c0c1);
    expect(step.done).toBe(false);
    const reply = step.reply!;
    expect(reply.length).toBe(1 + 2 * HANDSHAKE_PACKET_SIZE);
    expect(reply[0]).toBe(3);
    // S1: time 0, version 0 (no digest scheme), then filler.
    expect(reply.subarray(1, 9)).toEqual(hex('00000000 00000000'));
    expect(reply.subarray(9, 1 + HANDSHAKE_PACKET_SIZE)).toEqual(filler(HANDSHAKE_PACKET_SIZE - 8));
    expect(reply.subarray(1 + HANDSHAKE_PACKET_SIZE)).toEqual(c0c1.subarray(1));
  });

  it('accepts an FFmpeg-style C1 with a digest version field and finishes on C2', () => {
    // FFmpeg's C1 starts with time 0 and version 9.0.124.2; a plain server just echoes it.
    const c0c1 = Buffer.concat([hex('03 00000000 09007c02'), Buffer.alloc(HANDSHAKE_PACKET_SIZE - 8, 0x5a)]);
    const hs = new ServerHandshake({ randomBytes: filler });
    expect(hs.feed(c0c1).reply!.subarray(1 + HANDSHAKE_PACKET_SIZE, 1 + HANDSHAKE_PACKET_SIZE + 8)).toEqual(hex('00000000 09007c02'));
    const step = hs.feed(Buffer.alloc(HANDSHAKE_PACKET_SIZE));
    expect(step).toEqual({ done: true, rest: Buffer.alloc(0) });
    expect(hs.done).toBe(true);
    expect(hs.bufferedBytes).toBe(0);
  });

  it('hands bytes after C2 to the chunk stream, also when they arrive with C0+C1', () => {
    const { c0c1, c2 } = clientHandshake();
    const chunkBytes = hex('03 000000 00008c 14 00000000 0200');
    const hs = new ServerHandshake({ randomBytes: filler });
    const step = hs.feed(Buffer.concat([c0c1, c2, chunkBytes]));
    expect(step.reply).toBeDefined();
    expect(step.done).toBe(true);
    expect(step.rest).toEqual(chunkBytes);
    // After completion everything passes straight through.
    expect(hs.feed(hex('c3'))).toEqual({ done: true, rest: hex('c3') });
  });

  it('refuses anything but version 3 on the first byte', () => {
    const hs = new ServerHandshake();
    expect(() => hs.feed(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(RtmpProtocolError);
    expect(() => new ServerHandshake().feed(hex('06'))).toThrow(/version 6/);
    // TLS ClientHello on the plain port.
    expect(() => new ServerHandshake().feed(hex('16 0301'))).toThrow(RtmpProtocolError);
  });

  it('gives the same reply, rest and budget for any split of the input', () => {
    const { c0c1, c2 } = clientHandshake();
    const whole = Buffer.concat([c0c1, c2, hex('0102030405')]);
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { maxLength: 10 }), (fractions) => {
        const hs = new ServerHandshake({ randomBytes: filler });
        const replies: Buffer[] = [];
        const rest: Buffer[] = [];
        for (const piece of splitAt(whole, fractions)) {
          const step = hs.feed(piece);
          if (step.reply) replies.push(step.reply);
          rest.push(step.rest);
          expect(hs.bufferedBytes).toBeLessThanOrEqual(HANDSHAKE_CLIENT_BYTES);
        }
        expect(replies).toHaveLength(1);
        expect(replies[0]!.subarray(1 + HANDSHAKE_PACKET_SIZE)).toEqual(c0c1.subarray(1));
        expect(Buffer.concat(rest)).toEqual(hex('0102030405'));
        expect(hs.done).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
