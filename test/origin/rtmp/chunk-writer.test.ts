// Chunk serialization: exact bytes for header forms, continuations, extended timestamps and long chunk stream ids.
import { describe, expect, it } from 'vitest';
import { ChunkWriter } from '../../../origin/rtmp/chunk-writer.ts';
import type { RawMessage } from '../../../origin/rtmp/message-assembler.ts';
import { hex } from './fixtures.ts';

const message = (fields: Partial<RawMessage> & { payload: Buffer }): RawMessage => ({
  chunkStreamId: 4,
  typeId: 8,
  timestamp: 0,
  messageStreamId: 1,
  ...fields,
});

describe('ChunkWriter', () => {
  it('writes a type 0 header and type 3 continuations at the chunk size', () => {
    const payload = Buffer.alloc(300, 0x11);
    const bytes = new ChunkWriter().write(message({ chunkStreamId: 3, typeId: 20, messageStreamId: 0, payload }));
    expect(bytes).toEqual(
      Buffer.concat([hex('03 000000 00012c 14 00000000'), payload.subarray(0, 128), hex('c3'), payload.subarray(128, 256), hex('c3'), payload.subarray(256)]),
    );
  });

  it('compresses repeated fields into type 2, 3 and 1 headers, but never type 3 right after type 0', () => {
    const writer = new ChunkWriter();
    const out = [
      writer.write(message({ timestamp: 1000, payload: hex('aaaa') })),
      writer.write(message({ timestamp: 1020, payload: hex('bbbb') })),
      writer.write(message({ timestamp: 1040, payload: hex('cccc') })),
      writer.write(message({ timestamp: 1063, typeId: 9, payload: hex('dddddd') })),
      // A different message stream or a step back in time needs a full header again.
      writer.write(message({ timestamp: 1000, typeId: 9, payload: hex('ee') })),
    ];
    expect(out).toEqual([
      hex('04 0003e8 000002 08 01000000 aaaa'),
      hex('84 000014 bbbb'),
      hex('c4 cccc'),
      hex('44 000017 000003 09 dddddd'),
      hex('04 0003e8 000001 09 01000000 ee'),
    ]);
  });

  it('writes a type 0 header for every message when compression is off', () => {
    const writer = new ChunkWriter({ compressHeaders: false });
    writer.write(message({ payload: hex('aa') }));
    expect(writer.write(message({ timestamp: 10, payload: hex('bb') }))).toEqual(hex('04 00000a 000001 08 01000000 bb'));
  });

  it('repeats the extended timestamp on every continuation chunk', () => {
    const payload = Buffer.alloc(200, 7);
    const bytes = new ChunkWriter().write(message({ chunkStreamId: 6, typeId: 9, timestamp: 0x01000000, payload }));
    expect(bytes).toEqual(Buffer.concat([hex('06 ffffff 0000c8 09 01000000 01000000'), payload.subarray(0, 128), hex('c6 01000000'), payload.subarray(128)]));
  });

  it('writes 2-byte and 3-byte chunk stream ids', () => {
    const writer = new ChunkWriter();
    expect(writer.write(message({ chunkStreamId: 100, payload: hex('01') })).subarray(0, 2)).toEqual(hex('00 24'));
    expect(writer.write(message({ chunkStreamId: 1000, payload: hex('01') })).subarray(0, 3)).toEqual(hex('01 a803'));
    expect(() => writer.write(message({ chunkStreamId: 1, payload: hex('01') }))).toThrow(RangeError);
  });

  it('uses a new chunk size only for messages after setChunkSize', () => {
    const writer = new ChunkWriter();
    writer.setChunkSize(4096);
    expect(writer.write(message({ payload: Buffer.alloc(4000) }))).toHaveLength(12 + 4000);
    expect(() => writer.setChunkSize(0)).toThrow(RangeError);
    expect(() => writer.setChunkSize(65_537)).toThrow(RangeError);
  });
});
