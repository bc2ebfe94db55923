// Chunk parsing from hand-written bytes: header forms 0–3, long chunk stream ids, extended timestamps,
// deltas, byte-at-a-time input, and the limits that turn into RtmpProtocolError.
import { describe, expect, it } from 'vitest';
import { ChunkReader, RtmpProtocolError } from '../../../origin/rtmp/chunk-reader.ts';
import type { Chunk } from '../../../origin/rtmp/chunk-reader.ts';
import { hex } from './fixtures.ts';

/** FFmpeg 5.1's connect command as captured on the wire: 140 bytes at chunk size 128, so fmt 0 + fmt 3. */
const FFMPEG_CONNECT = hex(`
  03 000000 00008c 14 00000000
  020007636f6e6e656374003ff00000000000000300036170700200046c697665000474797065
  02000a6e6f6e707269766174650008666c617368566572020024464d4c452f332e302028636f
  6d70617469626c653b204c61766635392e32372e313030290005746355726c02001b72746d70
  3a2f2f3132372e302e302e313a31
  c3
  393335302f6c697665000009`);

function readAll(reader: ChunkReader, ...inputs: Buffer[]): Chunk[] {
  const chunks: Chunk[] = [];
  for (const input of inputs) {
    reader.append(input);
    for (let c = reader.next(); c; c = reader.next()) chunks.push({ ...c, payload: Buffer.from(c.payload) });
  }
  return chunks;
}

const header = (c: Chunk) => ({
  csid: c.chunkStreamId,
  fmt: c.fmt,
  ts: c.timestamp,
  len: c.messageLength,
  type: c.typeId,
  sid: c.messageStreamId,
  first: c.first,
  last: c.last,
  bytes: c.payload.length,
});

describe('ChunkReader', () => {
  it('reads a captured FFmpeg connect split into a type 0 and a type 3 chunk', () => {
    const chunks = readAll(new ChunkReader(), FFMPEG_CONNECT);
    expect(chunks.map(header)).toEqual([
      { csid: 3, fmt: 0, ts: 0, len: 140, type: 20, sid: 0, first: true, last: false, bytes: 128 },
      { csid: 3, fmt: 3, ts: 0, len: 140, type: 20, sid: 0, first: false, last: true, bytes: 12 },
    ]);
    const body = Buffer.concat(chunks.map((c) => c.payload));
    expect(body.subarray(3, 10).toString()).toBe('connect');
    expect(body.subarray(-3)).toEqual(hex('000009'));
  });

  it('gives the same chunks when fed one byte at a time', () => {
    const reader = new ChunkReader();
    const bytes = [...FFMPEG_CONNECT].map((b) => Buffer.of(b));
    const chunks = readAll(reader, ...bytes);
    expect(chunks.map(header)).toEqual(readAll(new ChunkReader(), FFMPEG_CONNECT).map(header));
    expect(reader.bufferedBytes).toBe(0);
  });

  it('applies timestamp deltas of type 1, 2 and 3 headers', () => {
    const bytes = hex(`
      04 0003e8 000002 08 01000000 aaaa
      84 000014 bbbb
      c4 cccc
      44 000017 000003 09 dddddd`);
    expect(readAll(new ChunkReader(), bytes).map((c) => [c.fmt, c.timestamp, c.typeId, c.messageStreamId, c.payload.toString('hex')])).toEqual([
      [0, 1000, 8, 1, 'aaaa'],
      [2, 1020, 8, 1, 'bbbb'],
      [3, 1040, 8, 1, 'cccc'],
      [1, 1063, 9, 1, 'dddddd'],
    ]);
  });

  it('reads a type 3 header right after type 0 as repeating the absolute timestamp, as FFmpeg does', () => {
    const bytes = hex('04 000021 000001 08 01000000 aa c4 bb');
    expect(readAll(new ChunkReader(), bytes).map((c) => c.timestamp)).toEqual([33, 66]);
  });

  it('reads 2-byte and 3-byte chunk stream ids', () => {
    const bytes = hex(`
      00 24   000000 000001 08 01000000 01
      01 a803 000000 000001 09 01000000 02
      c0 24   03`);
    expect(readAll(new ChunkReader(), bytes).map((c) => [c.chunkStreamId, c.typeId, c.payload.toString('hex')])).toEqual([
      [100, 8, '01'],
      [1000, 9, '02'],
      [100, 8, '03'],
    ]);
  });

  it('reads extended timestamps on the first chunk and again on each type 3 continuation', () => {
    const body = Buffer.alloc(200, 7);
    const bytes = Buffer.concat([
      hex('06 ffffff 0000c8 09 01000000 01000000'),
      body.subarray(0, 128),
      hex('c6 01000000'),
      body.subarray(128),
      // Next message: type 2 with an extended delta, then type 3 repeating it.
      hex('86 ffffff 02000000'),
    ]);
    const reader = new ChunkReader();
    const chunks = readAll(reader, bytes);
    expect(chunks.map((c) => [c.timestamp, c.payload.length])).toEqual([
      [0x01000000, 128],
      [0x01000000, 72],
    ]);
    expect(Buffer.concat(chunks.map((c) => c.payload))).toEqual(body);
    // The type 2 header above waits for its 200-byte body.
    expect(reader.next()).toBeUndefined();
  });

  it('wraps timestamps at 2^32', () => {
    const bytes = hex('04 ffffff 000001 08 01000000 fffffff0 aa 84 000020 bb');
    expect(readAll(new ChunkReader(), bytes).map((c) => c.timestamp)).toEqual([0xfffffff0, 0x10]);
  });

  it('uses the chunk size set between chunks', () => {
    const reader = new ChunkReader();
    reader.setChunkSize(4);
    const chunks = readAll(reader, hex('03 000000 000006 14 00000000 01020304 c3 0506'));
    expect(chunks.map((c) => c.payload.length)).toEqual([4, 2]);
  });

  it('accepts chunk sizes 1..65536 and refuses others', () => {
    const reader = new ChunkReader();
    reader.setChunkSize(1);
    reader.setChunkSize(65_536);
    for (const bad of [0, 65_537, 0x7fffffff, 1.5]) {
      expect(() => reader.setChunkSize(bad)).toThrow(RtmpProtocolError);
    }
  });

  it('refuses a type 1–3 chunk on a chunk stream it has not seen', () => {
    expect(() => readAll(new ChunkReader(), hex('44 000000 000001 08 aa'))).toThrow(/without a previous type 0/);
    expect(() => readAll(new ChunkReader(), hex('c4 aa'))).toThrow(RtmpProtocolError);
  });

  it('refuses a new header in the middle of a message', () => {
    const bytes = hex('03 000000 000100 14 00000000');
    const reader = new ChunkReader();
    reader.setChunkSize(2);
    expect(() => readAll(reader, bytes, hex('0102'), hex('03 000000 000001 14 00000000 01'))).toThrow(/middle of a message/);
  });

  it('caps the number of chunk streams', () => {
    const reader = new ChunkReader({ maxChunkStreams: 3 });
    const chunk = (csid: number) => Buffer.concat([Buffer.of(csid), hex('000000 000001 08 01000000 00')]);
    expect(readAll(reader, chunk(4), chunk(5), chunk(6), chunk(4))).toHaveLength(4);
    expect(() => readAll(reader, chunk(7))).toThrow(expect.objectContaining({ code: 'chunk-streams' }));
  });

  it('holds at most one chunk of unparsed input', () => {
    const reader = new ChunkReader();
    reader.setChunkSize(65_536);
    reader.append(hex('03 000000 100000 09 01000000'));
    // Trickled input is not joined until the whole chunk is there.
    for (let i = 0; i < 600; i++) {
      reader.append(Buffer.alloc(100));
      expect(reader.next()).toBeUndefined();
    }
    reader.append(Buffer.alloc(65_536 - 60_000));
    const chunk = reader.next();
    expect(chunk?.payload.length).toBe(65_536);
    expect(reader.bufferedBytes).toBe(0);
  });
});
