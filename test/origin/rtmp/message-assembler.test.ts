// Message reassembly: Set Chunk Size mid-stream, Abort, size limits, and the writer → assembler round
// trip at random chunk sizes and random split points.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RtmpProtocolError } from '../../../origin/rtmp/chunk-reader.ts';
import { ChunkWriter } from '../../../origin/rtmp/chunk-writer.ts';
import { MessageAssembler } from '../../../origin/rtmp/message-assembler.ts';
import type { RawMessage } from '../../../origin/rtmp/message-assembler.ts';
import { hex, splitAt } from './fixtures.ts';

function pushAll(assembler: MessageAssembler, ...inputs: Buffer[]): RawMessage[] {
  return inputs.flatMap((input) => assembler.push(input));
}

describe('MessageAssembler', () => {
  it('switches chunk size right after a Set Chunk Size message in the same input', () => {
    const body = Buffer.from('0123456789abcdefghij');
    const bytes = Buffer.concat([
      hex('02 000000 000004 01 00000000 00000010'),
      hex('03 000000 000014 14 00000000'),
      body.subarray(0, 16),
      hex('c3'),
      body.subarray(16),
    ]);
    const assembler = new MessageAssembler();
    const messages = pushAll(assembler, bytes);
    expect(messages.map((m) => [m.typeId, m.chunkStreamId, m.payload.toString('hex')])).toEqual([
      [1, 2, '00000010'],
      [20, 3, body.toString('hex')],
    ]);
    expect(assembler.chunkSize).toBe(16);
    expect(assembler.bufferedBytes).toBe(0);
  });

  it('refuses Set Chunk Size values outside 1..65536', () => {
    for (const size of ['00000000', '00010001', '80000080']) {
      expect(() => pushAll(new MessageAssembler(), hex(`02 000000 000004 01 00000000 ${size}`))).toThrow(
        expect.objectContaining({ code: 'chunk-size' }),
      );
    }
    expect(() => pushAll(new MessageAssembler(), hex('02 000000 000002 01 00000000 0001'))).toThrow(/shorter than 4 bytes/);
  });

  it('drops a partial message on Abort and reads the next one on that chunk stream', () => {
    const assembler = new MessageAssembler();
    const start = Buffer.concat([hex('04 000000 0000c8 08 01000000'), Buffer.alloc(128, 1)]);
    expect(pushAll(assembler, start)).toEqual([]);
    expect(assembler.bufferedBytes).toBe(128);
    const messages = pushAll(assembler, hex('02 000000 000004 02 00000000 00000004'), hex('04 000064 000002 08 01000000 beef'));
    expect(messages.map((m) => [m.typeId, m.timestamp, m.payload.toString('hex')])).toEqual([
      [2, 0, '00000004'],
      [8, 100, 'beef'],
    ]);
    expect(assembler.bufferedBytes).toBe(0);
  });

  it('refuses a message longer than its type allows as soon as the header arrives', () => {
    expect(() => pushAll(new MessageAssembler(), hex('06 000000 800001 09 01000000'))).toThrow(
      expect.objectContaining({ code: 'message-size' }),
    );
    expect(() => pushAll(new MessageAssembler(), hex('03 000000 010001 14 00000000'))).toThrow(/type 20 is 65537 bytes/);
    expect(() => pushAll(new MessageAssembler(), hex('02 000000 000041 05 00000000'))).toThrow(RtmpProtocolError);
    // At the limit is fine (8 MiB video header, body still to come).
    expect(pushAll(new MessageAssembler(), hex('06 000000 800000 09 01000000'))).toEqual([]);
  });

  it('caps the bytes held in partial messages across chunk streams', () => {
    const assembler = new MessageAssembler({ maxPartialBytes: 300 });
    const partial = (csid: number) => Buffer.concat([Buffer.of(csid), hex('000000 000400 09 01000000'), Buffer.alloc(128)]);
    expect(pushAll(assembler, partial(4), partial(5))).toEqual([]);
    expect(assembler.bufferedBytes).toBe(256);
    expect(() => pushAll(assembler, partial(6))).toThrow(expect.objectContaining({ code: 'buffer-limit' }));
  });

  it('round-trips messages through ChunkWriter at any chunk size and any split of the bytes', () => {
    const messageArb = fc.record({
      chunkStreamId: fc.oneof(fc.integer({ min: 3, max: 8 }), fc.constantFrom(63, 64, 319, 320, 65_599)),
      typeId: fc.constantFrom(8, 9, 18, 20),
      timestamp: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(0xfffffe, 0xffffff, 0x1000000, 0xffffffff)),
      messageStreamId: fc.constantFrom(0, 1),
      payload: fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
    });
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 700 }),
        fc.boolean(),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { maxLength: 15 }),
        (messages, chunkSize, compressHeaders, splits) => {
          const writer = new ChunkWriter({ compressHeaders });
          const setSize = Buffer.alloc(4);
          setSize.writeUInt32BE(chunkSize);
          const sizeMessage: RawMessage = { chunkStreamId: 2, typeId: 1, timestamp: 0, messageStreamId: 0, payload: setSize };
          const parts = [writer.write(sizeMessage)];
          writer.setChunkSize(chunkSize);
          for (const m of messages) parts.push(writer.write(m));

          const assembler = new MessageAssembler({ maxChunkStreams: 16 });
          const out = pushAll(assembler, ...splitAt(Buffer.concat(parts), splits));
          expect(out).toEqual([sizeMessage, ...messages]);
          expect(assembler.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
