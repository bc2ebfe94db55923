// The glass-to-glass barcode (test/support/barcode.ts) read back from real ffmpeg output: frames stamped by the
// publisher's filter, scaled to the lowest rung's size and squeezed by x264 at a low bitrate, still decode to the
// wall clock they were made at, 1/30 s apart; the decoder refuses a band it cannot read rather than misread it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { BARCODE_CELLS, STAMP_MODULUS, barcodeFilter, cellsFromLuma, decodeBarcode, stampAge } from '../support/barcode.ts';

const run = promisify(execFile);

describe('wall-clock barcode', () => {
  it('survives scaling to 426x240 and x264 at 200 kb/s: every frame decodes to its wall clock', async () => {
    const [w, h, frames] = [426, 240, 45];
    const before = Date.now();
    const { stdout } = await run(
      'bash',
      ['-c', `ffmpeg -hide_banner -loglevel error -nostdin -re -f lavfi -i testsrc2=size=1280x720:rate=30 -frames:v ${frames} -vf "${barcodeFilter(before, 30)},scale=${w}:${h}" -c:v libx264 -preset ultrafast -tune zerolatency -b:v 200k -f h264 - | ffmpeg -hide_banner -loglevel error -f h264 -i - -f rawvideo -pix_fmt gray -`],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: 60_000 },
    );
    const after = Date.now();
    const luma = new Uint8Array(stdout);
    expect(luma.length).toBe(w * h * frames);
    const stamps = Array.from({ length: frames }, (_, i) => decodeBarcode(cellsFromLuma(luma.subarray(i * w * h, (i + 1) * w * h), w, h)));
    expect(stamps.every((s) => s !== null)).toBe(true);
    // each stamp lies within the run, mod 2^24
    for (const s of stamps) expect(stampAge(after, s!)).toBeLessThanOrEqual(after - before);
    // -re paces frames at 30/s: consecutive stamps ~33 ms apart
    const gaps = stamps.slice(1).map((s, i) => (s! - stamps[i]! + STAMP_MODULUS) % STAMP_MODULUS);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    expect(mean).toBeGreaterThan(25);
    expect(mean).toBeLessThan(45);
  });

  it('reads bits against the references and refuses what it cannot tell', () => {
    const cells = (stamp: number, mid = -1) => [16, 235, ...Array.from({ length: 24 }, (_, k) => (k === mid ? 125 : (stamp >> k) & 1 ? 235 : 16))];
    expect(decodeBarcode(cells(0xabcdef))).toBe(0xabcdef);
    expect(decodeBarcode(cells(0))).toBe(0);
    expect(decodeBarcode(cells(0xabcdef, 5))).toBeNull(); // a bit halfway between black and white
    expect(decodeBarcode([100, 120, ...Array(24).fill(100)])).toBeNull(); // no contrast between references
    expect(decodeBarcode(cells(1).slice(0, BARCODE_CELLS - 1))).toBeNull();
    expect(stampAge(STAMP_MODULUS + 5, STAMP_MODULUS - 10)).toBe(15); // across the wrap
  });
});
