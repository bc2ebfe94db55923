// H.264 sequence parameter set → picture size and frame rate (ITU-T H.264 §7.3.2.1.1, VUI in Annex E). Pure.
// MPEG-TS carries no onMetaData, so this is how an SRT source's size reaches the ladder.

export interface SpsInfo {
  profileIdc: number;
  levelIdc: number;
  width: number;
  height: number;
  /** frames per second from the VUI timing, when the encoder wrote it */
  fps?: number;
}

/** Profiles whose SPS carries chroma format, bit depths and scaling matrices. */
const HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);
/** Beyond any real encoder (8K is 480×270 macroblocks); guards the arithmetic against nonsense. */
const MAX_MBS = 1024;

class BitReader {
  private bit = 0;
  constructor(private readonly bytes: Uint8Array) {}

  u(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.bytes[this.bit >> 3];
      if (byte === undefined) throw new RangeError('SPS ends early');
      value = value * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
      this.bit++;
    }
    return value;
  }

  /** Exp-Golomb ue(v); more than 31 leading zeros is not a valid SPS value. */
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) {
      if (++zeros > 31) throw new RangeError('bad Exp-Golomb code');
    }
    return 2 ** zeros - 1 + this.u(zeros);
  }

  se(): number {
    const k = this.ue();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Removes emulation prevention bytes (00 00 03 → 00 00). */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let n = 0;
  let zeros = 0;
  for (const byte of nal) {
    if (zeros >= 2 && byte === 3) {
      zeros = 0;
      continue;
    }
    zeros = byte === 0 ? zeros + 1 : 0;
    out[n++] = byte;
  }
  return out.subarray(0, n);
}

/** Parses an SPS NAL unit (header byte included); null when it is not one or cannot be read. */
export function parseSps(nal: Uint8Array): SpsInfo | null {
  if (nal.length < 4 || (nal[0]! & 0x1f) !== 7) return null;
  try {
    const r = new BitReader(unescapeRbsp(nal.subarray(1)));
    const profileIdc = r.u(8);
    r.u(8); // constraint flags
    const levelIdc = r.u(8);
    r.ue(); // seq_parameter_set_id
    let chromaFormatIdc = 1;
    let separateColourPlane = 0;
    if (HIGH_PROFILES.has(profileIdc)) {
      chromaFormatIdc = r.ue();
      if (chromaFormatIdc === 3) separateColourPlane = r.u(1);
      r.ue(); // bit_depth_luma_minus8
      r.ue(); // bit_depth_chroma_minus8
      r.u(1); // qpprime_y_zero_transform_bypass_flag
      if (r.u(1)) {
        const lists = chromaFormatIdc === 3 ? 12 : 8;
        for (let i = 0; i < lists; i++) if (r.u(1)) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
    r.ue(); // log2_max_frame_num_minus4
    const pocType = r.ue();
    if (pocType === 0) {
      r.ue();
    } else if (pocType === 1) {
      r.u(1);
      r.se();
      r.se();
      const cycle = r.ue();
      if (cycle > 255) return null;
      for (let i = 0; i < cycle; i++) r.se();
    }
    r.ue(); // max_num_ref_frames
    r.u(1); // gaps_in_frame_num_value_allowed_flag
    const widthMbs = r.ue() + 1;
    const heightMapUnits = r.ue() + 1;
    const frameMbsOnly = r.u(1);
    if (!frameMbsOnly) r.u(1); // mb_adaptive_frame_field_flag
    r.u(1); // direct_8x8_inference_flag
    let crop = { left: 0, right: 0, top: 0, bottom: 0 };
    if (r.u(1)) crop = { left: r.ue(), right: r.ue(), top: r.ue(), bottom: r.ue() };
    if (widthMbs > MAX_MBS || heightMapUnits > MAX_MBS) return null;

    const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
    const cropUnitX = chromaArrayType === 0 ? 1 : chromaArrayType === 3 ? 1 : 2;
    const cropUnitY = (chromaArrayType === 0 || chromaArrayType === 3 ? 1 : chromaArrayType === 2 ? 1 : 2) * (2 - frameMbsOnly);
    const width = widthMbs * 16 - cropUnitX * (crop.left + crop.right);
    const height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropUnitY * (crop.top + crop.bottom);
    if (width <= 0 || height <= 0) return null;

    const info: SpsInfo = { profileIdc, levelIdc, width, height };
    if (r.u(1)) {
      const fps = vuiFrameRate(r);
      if (fps !== undefined) info.fps = fps;
    }
    return info;
  } catch {
    return null;
  }
}

function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) next = (last + r.se() + 256) % 256;
    last = next === 0 ? last : next;
  }
}

/** Reads the VUI up to its timing info; a partly written VUI just gives no frame rate. */
function vuiFrameRate(r: BitReader): number | undefined {
  try {
    if (r.u(1) && r.u(8) === 255) r.u(32); // aspect_ratio_idc, then Extended_SAR
    if (r.u(1)) r.u(1); // overscan
    if (r.u(1)) {
      r.u(4); // video_format, video_full_range_flag
      if (r.u(1)) r.u(24); // colour description
    }
    if (r.u(1)) {
      r.ue();
      r.ue();
    }
    if (!r.u(1)) return undefined;
    const unitsInTick = r.u(32);
    const timeScale = r.u(32);
    if (unitsInTick === 0 || timeScale === 0) return undefined;
    const fps = timeScale / (2 * unitsInTick);
    return fps > 0 && fps <= 240 ? Math.round(fps * 1000) / 1000 : undefined;
  } catch {
    return undefined;
  }
}
