// FLV muxing: exact header and tag bytes, extended timestamps, and a parse-back property over random tag sequences.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FlvMuxer, FlvTagType, flvHeader, flvMetadataTag, flvTag } from '../../../origin/media/flv-muxer.ts';
import type { FlvInput } from '../../../origin/media/flv-muxer.ts';
import { Amf0EcmaArray, decodeAmf0 } from '../../../origin/rtmp/amf0.ts';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

interface ParsedTag {
  type: number;
  timestamp: number;
  data: Buffer;
}

/** A strict reader: checks the header, stream ids and every PreviousTagSize. */
function parseFlv(bytes: Buffer): { flags: number; tags: ParsedTag[] } {
  expect(bytes.subarray(0, 3).toString('latin1')).toBe('FLV');
  expect(bytes.readUInt32BE(5)).toBe(9);
  expect(bytes.readUInt32BE(9)).toBe(0);
  const tags: ParsedTag[] = [];
  let p = 13;
  while (p < bytes.length) {
    const size = bytes.readUIntBE(p + 1, 3);
    const timestamp = (bytes.readUIntBE(p + 4, 3) | (bytes[p + 7]! << 24)) >>> 0;
    expect(bytes.readUIntBE(p + 8, 3)).toBe(0);
    tags.push({ type: bytes[p]!, timestamp, data: bytes.subarray(p + 11, p + 11 + size) });
    expect(bytes.readUInt32BE(p + 11 + size)).toBe(11 + size);
    p += 11 + size + 4;
  }
  expect(p).toBe(bytes.length);
  return { flags: bytes[4]!, tags };
}

describe('FLV bytes', () => {
  it('writes the file header with audio/video flags and PreviousTagSize0', () => {
    expect(flvHeader({ audio: true, video: true })).toEqual(hex('464c56 01 05 00000009 00000000'));
    expect(flvHeader({ audio: true, video: false })[4]).toBe(0x04);
    expect(flvHeader({ audio: false, video: true })[4]).toBe(0x01);
  });

  it('writes a tag with the timestamp split into 24 bits plus an extension byte', () => {
    expect(flvTag(FlvTagType.Video, 0x01020304, Buffer.from('abc'))).toEqual(hex('09 000003 020304 01 000000 616263 0000000e'));
    expect(flvTag(FlvTagType.Audio, 33, Buffer.alloc(0))).toEqual(hex('08 000000 000021 00 000000 0000000b'));
  });

  it('writes onMetaData as a script tag without the @setDataFrame wrapper', () => {
    const tag = flvMetadataTag({ width: 640, videocodecid: 7 });
    expect(tag[0]).toBe(18);
    const data = tag.subarray(11, tag.length - 4);
    expect(decodeAmf0(data)).toStrictEqual(['onMetaData', new Amf0EcmaArray({ width: 640, videocodecid: 7 })]);
  });

  it('puts the file header before the first tag only', () => {
    const muxer = new FlvMuxer({ audio: false, video: true });
    const first = muxer.push({ type: 'video', timestamp: 0, payload: hex('17 00') });
    const second = muxer.push({ type: 'video', timestamp: 33, payload: hex('27 01') });
    expect(first.subarray(0, 13)).toEqual(flvHeader({ audio: false, video: true }));
    expect(second[0]).toBe(9);
    expect(parseFlv(Buffer.concat([first, second])).tags.map((t) => t.timestamp)).toEqual([0, 33]);
  });
});

describe('FLV properties', () => {
  it('a strict reader gets back every tag in order', () => {
    const inputArb: fc.Arbitrary<FlvInput> = fc.oneof(
      fc.record({
        type: fc.constantFrom('audio' as const, 'video' as const),
        timestamp: fc.integer({ min: 0, max: 0xffffffff }),
        payload: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      }),
      fc.record({
        type: fc.constant('metadata' as const),
        timestamp: fc.integer({ min: 0, max: 0xffffffff }),
        properties: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.double({ noNaN: true }), fc.string()), { noNullPrototype: true }),
      }),
    );
    fc.assert(
      fc.property(fc.array(inputArb, { minLength: 1, maxLength: 20 }), (inputs) => {
        const muxer = new FlvMuxer();
        const { flags, tags } = parseFlv(Buffer.concat(inputs.map((i) => muxer.push(i))));
        expect(flags).toBe(0x05);
        expect(tags.map((t) => [t.type, t.timestamp])).toEqual(
          inputs.map((i) => [i.type === 'audio' ? 8 : i.type === 'video' ? 9 : 18, i.timestamp]),
        );
        inputs.forEach((input, n) => {
          if (input.type === 'metadata') expect(decodeAmf0(tags[n]!.data)).toStrictEqual(['onMetaData', new Amf0EcmaArray(input.properties)]);
          else expect(tags[n]!.data).toEqual(input.payload);
        });
      }),
      { numRuns: 200 },
    );
  });
});
