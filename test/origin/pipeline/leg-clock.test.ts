// The leg clock: the wall-clock instant of a leg's first media from FLV tag timestamps or MPEG-TS PTS and arrival
// times, through any chunking, ignoring codec configuration, robust to late (buffered) arrival.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LegClock } from '../../../origin/pipeline/leg-clock.ts';

const FLV_HEADER = Uint8Array.from([0x46, 0x4c, 0x56, 1, 5, 0, 0, 0, 9, 0, 0, 0, 0]);

function flvTag(type: number, ts: number, data: number[]): Uint8Array {
  const size = data.length;
  const tag = new Uint8Array(11 + size + 4);
  tag.set([type, size >> 16, (size >> 8) & 0xff, size & 0xff, (ts >> 16) & 0xff, (ts >> 8) & 0xff, ts & 0xff, (ts >>> 24) & 0xff, 0, 0, 0], 0);
  tag.set(data, 11);
  const total = 11 + size;
  tag.set([total >>> 24, (total >> 16) & 0xff, (total >> 8) & 0xff, total & 0xff], 11 + size);
  return tag;
}

const avcConfig = (ts: number) => flvTag(9, ts, [0x17, 0, 0, 0, 0, 1, 2, 3]);
const keyframe = (ts: number) => flvTag(9, ts, [0x17, 1, 0, 0, 0, 9, 9, 9, 9]);
const interframe = (ts: number) => flvTag(9, ts, [0x27, 1, 0, 0, 0, 9, 9]);
const aacConfig = (ts: number) => flvTag(8, ts, [0xaf, 0, 0x12, 0x10]);
const aacFrame = (ts: number) => flvTag(8, ts, [0xaf, 1, 1, 2, 3]);
const metadata = () => flvTag(18, 0, [2, 0, 10, 0x6f, 0x6e, 0x4d, 0x65, 0x74, 0x61, 0x44, 0x61, 0x74, 0x61]);

describe('LegClock (FLV)', () => {
  it('takes the first media tag’s arrival when media arrives on time, configuration and metadata excluded', () => {
    const clock = new LegClock('flv');
    clock.push(FLV_HEADER, 1000);
    clock.push(metadata(), 1000);
    clock.push(avcConfig(5000), 1000); // a config stamped far ahead must not count
    clock.push(aacConfig(0), 1000);
    clock.push(keyframe(100), 1010);
    clock.push(aacFrame(110), 1021);
    clock.push(interframe(133), 1045);
    expect(clock.anchor).toBe(1010);
    expect(clock.sampleCount).toBe(3);
  });

  it('sees through a held-back burst: the last units arrived when they were live', () => {
    const clock = new LegClock('flv');
    clock.push(FLV_HEADER, 5000);
    // 1.5 s of media held before the transcode started, fed at once at 5000; then live, 33 ms apart.
    for (let ts = 0; ts <= 1500; ts += 33) clock.push(interframe(ts), 5000);
    for (let ts = 1518; ts <= 3000; ts += 33) clock.push(interframe(ts), 5000 + (ts - 1518) + 20);
    // The first unit was live at about 5000 - 1485.
    expect(clock.anchor).toBeGreaterThanOrEqual(3500);
    expect(clock.anchor).toBeLessThanOrEqual(3520);
  });

  it('gives the same anchor however the bytes are chunked, with 32-bit extended timestamps', () => {
    const tags = [FLV_HEADER, avcConfig(0), keyframe(0x01000010), aacFrame(0x01000020), interframe(0x01000043)];
    const stream = Buffer.concat(tags);
    const arrivals = [100, 200, 300];
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set([0, ...cuts.sort((a, b) => a - b), stream.length])];
        const clock = new LegClock('flv');
        // Each chunk arrives when the tag it ends in is due.
        let consumed = 0;
        for (let i = 1; i < points.length; i++) {
          const part = stream.subarray(points[i - 1], points[i]);
          consumed += part.length;
          const tagIndex = tags.findIndex((_, k) => Buffer.concat(tags.slice(0, k + 1)).length >= consumed);
          clock.push(part, arrivals[Math.max(0, tagIndex - 2)] ?? 300);
        }
        expect(clock.sampleCount).toBe(3);
        expect(clock.anchor).toBeLessThanOrEqual(300);
      }),
    );
  });

  it('stops measuring on bytes that are not FLV tags (no guess), keeping what it had', () => {
    const clock = new LegClock('flv');
    clock.push(FLV_HEADER, 0);
    clock.push(keyframe(0), 777);
    clock.push(Uint8Array.from([0x55, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5]), 800);
    clock.push(keyframe(10), 100);
    expect(clock.anchor).toBe(777);
    expect(new LegClock('flv').anchor).toBeUndefined();
  });
});

/** One 188-byte TS packet starting a PES with a PTS. */
function pesPacket(streamId: number, pts90k: number, adaptation = 0): Uint8Array {
  const p = new Uint8Array(188).fill(0xff);
  p.set([0x47, 0x41, 0x00, adaptation ? 0x30 : 0x10], 0);
  let o = 4;
  if (adaptation) {
    p[4] = adaptation;
    p.fill(0, 5, 5 + adaptation);
    o += 1 + adaptation;
  }
  const pts = BigInt(pts90k);
  p.set(
    [0, 0, 1, streamId, 0, 0, 0x80, 0x80, 5, 0x21 | Number((pts >> 29n) & 0x0en), Number((pts >> 22n) & 0xffn), Number(((pts >> 14n) & 0xfen) | 1n), Number((pts >> 7n) & 0xffn), Number(((pts << 1n) & 0xfen) | 1n)],
    o,
  );
  return p;
}

describe('LegClock (MPEG-TS)', () => {
  it('reads PES PTS (33 bits, after an adaptation field) across packets split between chunks', () => {
    const clock = new LegClock('mpegts');
    const base = 2 ** 32 + 90_000; // above 32 bits
    const stream = Buffer.concat([pesPacket(0xe0, base), pesPacket(0xc0, base + 900, 7), pesPacket(0xe0, base + 3000), pesPacket(0xbd, base)]);
    clock.push(stream.subarray(0, 200), 10_000);
    clock.push(stream.subarray(200, 380), 10_020);
    clock.push(stream.subarray(380), 10_040);
    expect(clock.sampleCount).toBe(3);
    // 0 ms at 10 000, 10 ms at 10 020 (→ 10 010), 33.3 ms at 10 040 (→ 10 006.7)
    expect(clock.anchor).toBe(10_000);
  });
});
