// Message reassembly: Set Chunk Size mid-stream, Abort, size limits, and the writer → assembler round
// trip at random chunk sizes and random split points.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RtmpProtocolError } from '../../../origin/rtmp/chunk-reader.ts';
import { ChunkWriter } from '../../../origin/rtmp/chunk-writer.ts';
import { IngestBudget } from '../../../origin/rtmp/ingest-limits.ts';
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
    const assembler = new MessageAssembler({ minChunkSize: 1 });
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
    // Held as one buffer of the message's length (200), whatever arrived of it.
    expect(assembler.bufferedBytes).toBe(200);
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
    const assembler = new MessageAssembler({ maxPartialBytes: 2100 });
    const partial = (csid: number) => Buffer.concat([Buffer.of(csid), hex('000000 000400 09 01000000'), Buffer.alloc(128)]);
    expect(pushAll(assembler, partial(4), partial(5))).toEqual([]);
    // Counted as allocated: two 1024-byte buffers, not the 256 payload bytes received.
    expect(assembler.bufferedBytes).toBe(2048);
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

          const assembler = new MessageAssembler({ maxChunkStreams: 16, minChunkSize: 1 });
          const out = pushAll(assembler, ...splitAt(Buffer.concat(parts), splits));
          expect(out).toEqual([sizeMessage, ...messages]);
          expect(assembler.bufferedBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Set Chunk Size 1, then a video message announced at `length` with its first byte; more bytes follow as `0xc4 xx` chunks. */
const oneByteFlood = (length = 0x7fffff) =>
  Buffer.concat([hex('02 000000 000004 01 00000000 00000001'), hex(`04 000000 ${length.toString(16).padStart(6, '0')} 09 01000000 00`)]);
const oneByteChunks = (n: number) => {
  const bytes = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) bytes[2 * i] = 0xc4;
  return bytes;
};

describe('MessageAssembler memory', () => {
  it('holds 1 M one-byte chunks of an unfinished message as one buffer: heap does not grow per chunk', () => {
    // Measured in a process of its own with --expose-gc; before coalescing this was +107 MB of heap for 2 MB sent.
    const probe = fileURLToPath(new URL('./assembler-heap-probe.ts', import.meta.url));
    const run = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', probe, '1000000'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    const figures = JSON.parse(run.stdout) as { heapDelta: number; arrayBuffersDelta: number; rssDelta: number; bufferedBytes: number };
    expect(figures.bufferedBytes).toBeLessThanOrEqual(2 * 1_000_000);
    expect(figures.heapDelta).toBeLessThan(4 * 1024 * 1024);
    expect(figures.arrayBuffersDelta).toBeLessThan(4 * 1024 * 1024);
    expect(figures.rssDelta).toBeLessThan(32 * 1024 * 1024);
  });

  it('counts what it holds by allocation, so 1 M one-byte chunks cost at most twice their payload', () => {
    const assembler = new MessageAssembler({ minChunkSize: 1 });
    assembler.push(oneByteFlood());
    for (let i = 0; i < 1_000_000; i += 50_000) {
      expect(assembler.push(oneByteChunks(50_000))).toEqual([]);
      expect(assembler.bufferedBytes).toBeLessThanOrEqual(2 * (i + 50_001));
    }
  });

  it('refuses a multi-chunk message in chunks below the minimum size (default 128) as soon as its header arrives', () => {
    const assembler = new MessageAssembler();
    expect(() => assembler.push(oneByteFlood())).toThrow(expect.objectContaining({ code: 'chunk-overhead' }));
    // Only the refused header's own 13 bytes, unread: no body buffer was allocated.
    expect(assembler.bufferedBytes).toBe(13);
    // A message that fits one small chunk costs nothing extra and is fine.
    const small = new MessageAssembler();
    expect(small.push(Buffer.concat([hex('02 000000 000004 01 00000000 00000004'), hex('02 000000 000004 05 00000000 00001000')]))).toHaveLength(2);
  });

  it('refuses shrinking the chunk size below the minimum while a message is being assembled', () => {
    const assembler = new MessageAssembler();
    const start = Buffer.concat([hex('04 000000 000400 09 01000000'), Buffer.alloc(128)]);
    expect(assembler.push(start)).toEqual([]);
    expect(() => assembler.push(hex('02 000000 000004 01 00000000 00000001'))).toThrow(expect.objectContaining({ code: 'chunk-overhead' }));
  });

  it('draws partial messages from a shared budget, fails the connection that finds it empty, and gives everything back', () => {
    const budget = new IngestBudget(3000);
    const partial = Buffer.concat([hex('04 000000 000400 09 01000000'), Buffer.alloc(128)]);
    const a = new MessageAssembler({}, { account: budget.account() });
    const b = new MessageAssembler({}, { account: budget.account() });
    const c = new MessageAssembler({}, { account: budget.account() });
    a.push(partial);
    b.push(partial);
    expect(budget.heldBytes).toBe(2048);
    expect(() => c.push(partial)).toThrow(expect.objectContaining({ code: 'ingest-budget' }));
    a.dispose();
    expect(budget.heldBytes).toBe(1024);
    // b completes its message: the buffer is handed over and no longer counted.
    expect(b.push(Buffer.concat([...Array.from({ length: 7 }, () => Buffer.concat([hex('c4'), Buffer.alloc(128)]))]))).toHaveLength(1);
    expect(budget.heldBytes).toBe(0);
  });

  it('keeps the publishers\' reserve out of reach of connections that do not publish', () => {
    const budget = new IngestBudget(4096, 3072);
    const stranger = budget.account();
    const publisher = budget.account();
    publisher.promote();
    expect(stranger.take(1024)).toBe(true);
    expect(stranger.take(1)).toBe(false);
    expect(publisher.take(3072)).toBe(true);
    expect(publisher.take(1)).toBe(false);
    stranger.close();
    expect(budget.heldBytes).toBe(3072);
    expect(budget.heldByNonPublishersBytes).toBe(0);
  });

  it('never holds more than maxPartialBytes (nor draws more from its account) for any messages, chunk size and split', () => {
    const messageArb = fc.record({
      chunkStreamId: fc.integer({ min: 3, max: 10 }),
      typeId: fc.constantFrom(8, 9, 18, 20),
      length: fc.integer({ min: 0, max: 20_000 }),
      /** Fraction of the body actually sent; below 1 the message stays unfinished (on its own chunk stream). */
      sent: fc.oneof(fc.constant(1), fc.double({ min: 0, max: 1, noNaN: true })),
    });
    fc.assert(
      fc.property(
        fc.array(messageArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 700 }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { maxLength: 30 }),
        (messages, chunkSize, maxPartialBytes, splits) => {
          const writer = new ChunkWriter();
          const setSize = Buffer.alloc(4);
          setSize.writeUInt32BE(chunkSize);
          const parts = [writer.write({ chunkStreamId: 2, typeId: 1, timestamp: 0, messageStreamId: 0, payload: setSize })];
          writer.setChunkSize(chunkSize);
          const unfinished = new Set<number>();
          for (const m of messages) {
            if (unfinished.has(m.chunkStreamId)) continue;
            const bytes = writer.write({ chunkStreamId: m.chunkStreamId, typeId: m.typeId, timestamp: 0, messageStreamId: 1, payload: Buffer.alloc(m.length, 7) });
            const cut = m.sent === 1 ? bytes.length : Math.floor(bytes.length * m.sent);
            if (cut < bytes.length) unfinished.add(m.chunkStreamId);
            parts.push(bytes.subarray(0, cut));
            if (cut < bytes.length) break; // a cut chunk would misalign everything after it
          }
          const budget = new IngestBudget(Number.MAX_SAFE_INTEGER);
          const account = budget.account();
          const assembler = new MessageAssembler({ minChunkSize: 1, maxPartialBytes }, { account });
          try {
            for (const piece of splitAt(Buffer.concat(parts), splits)) {
              assembler.push(piece);
              expect(account.heldBytes).toBeLessThanOrEqual(maxPartialBytes);
              expect(assembler.bufferedBytes).toBeLessThanOrEqual(maxPartialBytes + 18 + chunkSize);
            }
          } catch (error) {
            expect(error).toMatchObject({ code: 'buffer-limit' });
          }
          expect(account.heldBytes).toBeLessThanOrEqual(maxPartialBytes);
          assembler.dispose();
          expect(budget.heldBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
