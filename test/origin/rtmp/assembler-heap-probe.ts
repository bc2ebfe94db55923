// Run by message-assembler.test.ts in its own `node --expose-gc` process: feeds a MessageAssembler N one-byte chunks
// of a message that never finishes and prints the heap/RSS growth it caused as one JSON line.
// Usage: node --expose-gc --import tsx test/origin/rtmp/assembler-heap-probe.ts <chunks>
import { MessageAssembler } from '../../../origin/rtmp/message-assembler.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const chunks = Number(process.argv[2] ?? 1_000_000);
// minChunkSize 1: this measures the coalescing alone, with the chunk-overhead refusal out of the way.
const assembler = new MessageAssembler({ minChunkSize: 1 });
assembler.push(Buffer.from('02 000000 000004 01 00000000 00000001'.replace(/ /g, ''), 'hex'));
gc();
const before = process.memoryUsage();
// One video message announced at 8 MiB - 1, so it never completes; then type 3 chunks of one byte each.
assembler.push(Buffer.from('04 000000 7fffff 09 01000000 00'.replace(/ /g, ''), 'hex'));
const perRead = 32 * 1024;
for (let sent = 1; sent < chunks; sent += perRead) {
  const n = Math.min(perRead, chunks - sent);
  const bytes = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) bytes[2 * i] = 0xc4;
  if (assembler.push(bytes).length > 0) throw new Error('the message must not complete');
}
gc();
const after = process.memoryUsage();
console.log(
  JSON.stringify({
    chunks,
    wireBytes: 13 + 2 * chunks,
    heapDelta: after.heapUsed - before.heapUsed,
    arrayBuffersDelta: after.arrayBuffers - before.arrayBuffers,
    rssDelta: after.rss - before.rss,
    bufferedBytes: assembler.bufferedBytes,
  }),
);
