// The wall-clock barcode of the glass-to-glass measurements: a publisher that stamps the moment each frame is made
// into the frame itself, and the pure decoder of what a player displayed. The band at the top of every frame is 26
// cells across the full width: cell 0 always black and cell 1 always white (the references a reader thresholds
// against), cells 2..25 the 24 bits of the frame's wall-clock milliseconds mod 2^24 (bit k in cell k + 2). Cells
// and band scale with the picture, so they survive the lowest rung's scaling and x264 (each cell is 1/26 of the
// width, the band 1/10 of the height: 16×24 px at 426×240).
import { spawnPublisher, type Publisher } from './encoder.ts';

export const BARCODE_BITS = 24;
export const BARCODE_CELLS = BARCODE_BITS + 2;
/** the band's height as a fraction of the picture's */
export const BARCODE_BAND = 0.1;
export const STAMP_MODULUS = 2 ** BARCODE_BITS;

/**
 * The ffmpeg video filter chain that stamps frames. The frame's timestamp is first replaced by the wall clock it
 * passes through the filter (setpts RTCTIME, in µs since `epochMs`), the 24 bit boxes are drawn from it
 * (`enable` per box: bit k of epochMs + t·1000), then timestamps go back to a regular `rate` cadence for the encoder.
 */
export function barcodeFilter(epochMs: number, rate: number): string {
  const epoch = Math.floor(epochMs);
  const cell = (i: number) => `x=${i}*iw/${BARCODE_CELLS}:y=0:w=iw/${BARCODE_CELLS}+1:h=ih*${BARCODE_BAND}:t=fill`;
  const chain = [
    'settb=AVTB',
    `setpts='RTCTIME-${epoch}000'`,
    `drawbox=x=0:y=0:w=iw:h=ih*${BARCODE_BAND}:t=fill:color=black`,
    `drawbox=${cell(1)}:color=white`,
  ];
  for (let k = 0; k < BARCODE_BITS; k++) {
    chain.push(`drawbox=${cell(k + 2)}:color=white:enable='eq(mod(floor((${epoch}+floor(t*1000))/${2 ** k}),2),1)'`);
  }
  chain.push(`setpts=N/(${rate}*TB)`);
  return chain.join(',');
}

export interface BarcodePublishOptions {
  seconds?: number;
  size?: string;
  rate?: number;
  videoBitrate?: string;
  /** keyframe interval in seconds (the low mode's recommended encoder setting: 1 s) */
  keyframeSeconds?: number;
}

/**
 * Publishes a `-re` lavfi picture stamped with the barcode, with a tone, over RTMP: x264 zerolatency (no B-frames),
 * keyframes every `keyframeSeconds` (default 1 s, no scene-cut keyframes), AAC — what low mode asks of an encoder.
 */
export function publishBarcode(url: string, options: BarcodePublishOptions = {}): Publisher & { epochMs: number } {
  const { seconds = 600, size = '1280x720', rate = 30, videoBitrate = '2500k', keyframeSeconds = 1 } = options;
  const epochMs = Date.now();
  const gop = String(Math.max(1, Math.round(rate * keyframeSeconds)));
  const args = [
    '-hide_banner', '-loglevel', 'warning', '-nostdin',
    '-re', '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}`,
    '-re', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds),
    '-vf', barcodeFilter(epochMs, rate),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-bf', '0',
    '-g', gop, '-keyint_min', gop, '-sc_threshold', '0',
    '-pix_fmt', 'yuv420p', '-b:v', videoBitrate, '-maxrate', videoBitrate, '-bufsize', videoBitrate,
    '-c:a', 'aac', '-b:a', '96k',
    '-f', 'flv', url,
  ];
  return { epochMs, ...spawnPublisher(args) };
}

/**
 * Pure: the stamp (wall-clock ms mod 2^24) a band carries, from the mean luma (0–255) of its 26 cells; null when the
 * references are too close to tell black from white or a bit cell sits near the threshold (a frame caught mid-blur
 * is skipped, never misread).
 */
export function decodeBarcode(cells: readonly number[]): number | null {
  if (cells.length !== BARCODE_CELLS) return null;
  const black = cells[0]!;
  const white = cells[1]!;
  const contrast = white - black;
  if (contrast < 64) return null;
  const threshold = (black + white) / 2;
  let stamp = 0;
  for (let k = 0; k < BARCODE_BITS; k++) {
    const value = cells[k + 2]!;
    if (Math.abs(value - threshold) < contrast * 0.25) return null;
    if (value > threshold) stamp += 2 ** k;
  }
  return stamp;
}

/** Pure: how long after its stamp a frame was shown, in ms (the clocks compared mod 2^24, so ≈ 4.6 h of range). */
export function stampAge(shownAtMs: number, stamp: number): number {
  const shown = Math.floor(shownAtMs) % STAMP_MODULUS;
  return (((shown - stamp) % STAMP_MODULUS) + STAMP_MODULUS) % STAMP_MODULUS;
}

/**
 * Pure: the mean luma of each cell of the band from a whole grey (8-bit luma) picture, sampled over the middle half
 * of each cell as the viewer page does on its canvas (edges blur under scaling and compression).
 */
export function cellsFromLuma(luma: Uint8Array, width: number, height: number): number[] {
  const band = Math.max(1, Math.floor(height * BARCODE_BAND));
  const cells: number[] = [];
  for (let c = 0; c < BARCODE_CELLS; c++) {
    const x0 = (c * width) / BARCODE_CELLS;
    const cw = width / BARCODE_CELLS;
    let sum = 0;
    let n = 0;
    for (let y = Math.floor(band / 4); y < Math.ceil((3 * band) / 4); y++) {
      for (let x = Math.floor(x0 + cw / 4); x < Math.ceil(x0 + (3 * cw) / 4); x++) {
        sum += luma[y * width + x]!;
        n++;
      }
    }
    cells.push(Math.round(sum / n));
  }
  return cells;
}
