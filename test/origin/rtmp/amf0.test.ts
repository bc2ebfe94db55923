// AMF0: byte fixtures per marker, a captured FFmpeg connect body, the decode caps, and fast-check
// properties (encode → decode round trip; arbitrary bytes only ever fail with RtmpProtocolError).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Amf0EcmaArray, amf0Properties, decodeAmf0, encodeAmf0 } from '../../../origin/rtmp/amf0.ts';
import type { Amf0Value } from '../../../origin/rtmp/amf0.ts';
import { RtmpProtocolError } from '../../../origin/rtmp/chunk-reader.ts';
import { hex } from './fixtures.ts';

const FFMPEG_CONNECT_BODY = hex(`
  020007636f6e6e656374003ff00000000000000300036170700200046c697665000474797065
  02000a6e6f6e707269766174650008666c617368566572020024464d4c452f332e302028636f
  6d70617469626c653b204c61766635392e32372e313030290005746355726c02001b72746d70
  3a2f2f3132372e302e302e313a31393335302f6c697665000009`);

describe('AMF0 fixtures', () => {
  const cases: [string, Amf0Value, string][] = [
    ['number', 1, '00 3ff0000000000000'],
    ['boolean', true, '01 01'],
    ['string', 'app', '02 0003 617070'],
    ['null', null, '05'],
    ['undefined', undefined, '06'],
    ['object', { app: 'live' }, '03 0003 617070 02 0004 6c697665 000009'],
    ['ECMA array', new Amf0EcmaArray({ width: 640 }), '08 00000001 0005 7769647468 00 4084000000000000 000009'],
    ['strict array', [false, null], '0a 00000002 01 00 05'],
    ['date', new Date(0), '0b 0000000000000000 0000'],
  ];
  for (const [name, value, bytes] of cases) {
    it(`encodes and decodes ${name}`, () => {
      expect(encodeAmf0(value)).toEqual(hex(bytes));
      expect(decodeAmf0(hex(bytes))).toStrictEqual([value]);
    });
  }

  it('switches to a long string past 65535 bytes', () => {
    const text = 'x'.repeat(70_000);
    const bytes = encodeAmf0(text);
    expect(bytes.subarray(0, 5)).toEqual(hex('0c 00011170'));
    expect(decodeAmf0(bytes)).toEqual([text]);
  });

  it('decodes the connect command FFmpeg 5.1 sends', () => {
    expect(decodeAmf0(FFMPEG_CONNECT_BODY)).toStrictEqual([
      'connect',
      1,
      { app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0 (compatible; Lavf59.27.100)', tcUrl: 'rtmp://127.0.0.1:19350/live' },
    ]);
  });

  it('reads ECMA arrays by their end marker whatever count they announce', () => {
    expect(decodeAmf0(hex('08 00000000 0001 61 01 01 000009'))).toStrictEqual([new Amf0EcmaArray({ a: true })]);
  });

  it('keeps __proto__ as an own property instead of changing the prototype', () => {
    const [value] = decodeAmf0(hex('03 0009 5f5f70726f746f5f5f 03 0001 78 01 01 000009 000009'));
    const object = value as Record<string, unknown>;
    expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
    expect(Object.keys(object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('gives properties of objects and ECMA arrays alike', () => {
    expect(amf0Properties(new Amf0EcmaArray({ a: 1 }))).toEqual({ a: 1 });
    expect(amf0Properties({ a: 1 })).toEqual({ a: 1 });
    expect(amf0Properties([1])).toBeUndefined();
    expect(amf0Properties(null)).toBeUndefined();
  });
});

describe('AMF0 limits and malformed input', () => {
  const fails = (bytes: Buffer, code: string, limits = {}) =>
    expect(() => decodeAmf0(bytes, limits)).toThrow(expect.objectContaining({ name: 'RtmpProtocolError', code }));

  it('refuses nesting deeper than the cap', () => {
    // `depth` strict arrays of one element each, innermost holding null.
    const nested = (depth: number) => Buffer.concat([...Array.from({ length: depth }, () => hex('0a 00000001')), hex('05')]);
    expect(decodeAmf0(nested(16))).toHaveLength(1);
    fails(nested(17), 'amf0-limit');
  });

  it('refuses strings and element counts over the caps without allocating for them', () => {
    fails(hex('0c ffffffff'), 'amf0-limit');
    fails(hex('02 0005 6162636465'), 'amf0-limit', { maxStringBytes: 4 });
    fails(hex('0a ffffffff'), 'amf0-limit');
    fails(hex('03 0001 61 05 0001 62 05 0001 63 05 000009'), 'amf0-limit', { maxElements: 2 });
  });

  it('refuses truncated values, stray object ends and unsupported markers', () => {
    fails(hex('00 3ff0'), 'amf0-malformed');
    fails(hex('02 0010 61'), 'amf0-malformed');
    fails(hex('03 0001 61 05'), 'amf0-malformed');
    fails(hex('0a 00000002 05'), 'amf0-malformed');
    fails(hex('09'), 'amf0-malformed');
    fails(hex('07 0001'), 'amf0-malformed');
    fails(hex('11 01'), 'amf0-malformed');
  });
});

const { value: amf0ValueArb } = fc.letrec<{ value: Amf0Value }>((tie) => ({
  value: fc.oneof(
    { maxDepth: 4, depthSize: 'small' },
    fc.double(),
    fc.boolean(),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.constant(null),
    fc.constant(undefined),
    fc.date({ noInvalidDate: true }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5, noNullPrototype: true }),
    fc
      .dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5, noNullPrototype: true })
      .map((entries) => new Amf0EcmaArray(entries)),
  ),
}));

describe('AMF0 properties', () => {
  it('decode(encode(values)) gives the values back', () => {
    fc.assert(
      fc.property(fc.array(amf0ValueArb, { maxLength: 4 }), (values) => {
        expect(decodeAmf0(encodeAmf0(...values))).toStrictEqual(values);
      }),
      { numRuns: 400 },
    );
  });

  it('arbitrary and mutated bytes decode or fail with RtmpProtocolError, and what decodes re-encodes stably', () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc
        .tuple(fc.array(amf0ValueArb, { minLength: 1, maxLength: 3 }), fc.nat(), fc.integer({ min: 0, max: 255 }))
        .map(([values, at, byte]) => {
          const b = encodeAmf0(...values);
          if (b.length > 0) b[at % b.length] = byte;
          return b;
        }),
    );
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        let values: Amf0Value[];
        try {
          values = decodeAmf0(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(RtmpProtocolError);
          return;
        }
        const again = encodeAmf0(...values);
        expect(decodeAmf0(again)).toStrictEqual(values);
      }),
      { numRuns: 500 },
    );
  });
});
