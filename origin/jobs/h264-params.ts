// What a smart cut needs to know about H.264: the parameter sets (SPS/PPS) a stream carries, the
// options string x264 leaves in its first SEI, and the x264 settings that make a re-encoded edge carry
// byte-identical parameter sets, so edges and copied middle share one avcC in the MP4. Pure.
//
// x264 derives its SPS/PPS from a handful of settings only (profile features, refs, B-frames and
// pyramid, weighted prediction, 8x8 transform, CQM, level, rate-control method for pic_init_qp, the
// psy-adjusted chroma QP offset, VUI timing from the frame rate). Copying those from the source's
// own options string reproduces them; the caller still compares bytes before trusting the result.

/** NAL units of an Annex B stream, start codes removed. */
export function splitAnnexB(buf: Uint8Array): Uint8Array[] {
  const starts: { at: number; len: number }[] = [];
  for (let i = 0; i + 2 < buf.length; i++) {
    if (buf[i] === 0 && buf[i + 1] === 0 && buf[i + 2] === 1) {
      const four = i > 0 && buf[i - 1] === 0;
      starts.push({ at: i + 3, len: four ? 4 : 3 });
      i += 2;
    }
  }
  const out: Uint8Array[] = [];
  starts.forEach((s, k) => {
    const next = starts[k + 1];
    let end = next ? next.at - next.len : buf.length;
    // trailing_zero_8bits belong to no NAL unit
    while (end > s.at && buf[end - 1] === 0) end--;
    if (end > s.at) out.push(buf.subarray(s.at, end));
  });
  return out;
}

export const nalType = (nal: Uint8Array): number => (nal[0] ?? 0) & 0x1f;

export const NAL_IDR = 5;
export const NAL_SEI = 6;
export const NAL_SPS = 7;
export const NAL_PPS = 8;

export interface ParameterSets {
  /** hex of each distinct SPS NAL unit, in order of appearance */
  sps: string[];
  pps: string[];
}

export function parameterSets(nals: readonly Uint8Array[]): ParameterSets {
  const sps: string[] = [];
  const pps: string[] = [];
  for (const n of nals) {
    const list = nalType(n) === NAL_SPS ? sps : nalType(n) === NAL_PPS ? pps : undefined;
    if (!list) continue;
    const hex = Buffer.from(n).toString('hex');
    if (!list.includes(hex)) list.push(hex);
  }
  return { sps, pps };
}

export function sameParameterSets(a: ParameterSets, b: ParameterSets): boolean {
  const eq = (x: string[], y: string[]): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
  return a.sps.length > 0 && a.pps.length > 0 && eq(a.sps, b.sps) && eq(a.pps, b.pps);
}

/** The first access unit holds an IDR slice: decoding can start there with nothing before it. */
export function startsWithIdr(nals: readonly Uint8Array[]): boolean {
  for (const n of nals) {
    const t = nalType(n);
    if (t === NAL_IDR) return true;
    if (t >= 1 && t <= 4) return false; // a non-IDR slice came first
  }
  return false;
}

/** level_idc of the first SPS (e.g. 31 for 3.1). */
export function spsLevel(sps: ParameterSets): number | undefined {
  const first = sps.sps[0];
  if (!first || first.length < 8) return undefined;
  return Number.parseInt(first.slice(6, 8), 16);
}

/** `options: cabac=1 ref=3 …` from x264's user-data SEI, as a map; undefined for other encoders. */
export function x264Options(nals: readonly Uint8Array[]): Record<string, string> | undefined {
  for (const n of nals) {
    if (nalType(n) !== NAL_SEI) continue;
    const text = Buffer.from(n).toString('latin1');
    const at = text.indexOf('x264 - core');
    if (at < 0) continue;
    const opt = text.indexOf('options: ', at);
    if (opt < 0) continue;
    const end = text.indexOf('\0', opt);
    const list = text.slice(opt + 9, end < 0 ? undefined : end);
    const out: Record<string, string> = {};
    for (const token of list.split(' ')) {
      const eq = token.indexOf('=');
      if (eq > 0) out[token.slice(0, eq)] = token.slice(eq + 1);
    }
    return out;
  }
  return undefined;
}

export type MatchedSettings = { ok: true; x264Params: string; crf?: number } | { ok: false; reason: string };

// Options copied as they are (x264's own names, '_' → '-').
const COPIED = ['cabac', 'ref', '8x8dct', 'bframes', 'b_pyramid', 'weightb', 'weightp', 'constrained_intra', 'bluray_compat', 'subme', 'psy', 'trellis'] as const;

/**
 * x264 settings for an edge re-encode whose SPS/PPS should equal the source's. `level` is the source
 * SPS level_idc. The edge quality follows the source: same CRF/QP, or CRF 18 for a bitrate-driven
 * source (stitchable then pins pic_init_qp to 26, as ABR/CBR does).
 */
export function matchX264Settings(options: Readonly<Record<string, string>>, level: number): MatchedSettings {
  const o = options;
  if ((o.interlaced ?? '0') !== '0') return { ok: false, reason: `interlaced source (${o.interlaced})` };
  if ((o.open_gop ?? '0') !== '0') return { ok: false, reason: 'open-GOP source: its keyframes are not IDR' };
  if ((o.intra_refresh ?? '0') !== '0') return { ok: false, reason: 'intra-refresh source: it has no IDR keyframes' };
  if ((o.stitchable ?? '0') !== '0') return { ok: false, reason: 'stitchable source' };
  const params: string[] = [];
  for (const k of COPIED) {
    const v = o[k];
    if (v === undefined) continue;
    if (!/^-?\d+(\.\d+)?$/.test(v)) return { ok: false, reason: `unexpected ${k}=${v}` };
    params.push(`${k.replace(/_/g, '-')}=${v}`);
  }
  const cqm = o.cqm ?? '0';
  if (cqm === '0') params.push('cqm=flat');
  else if (cqm === '1') params.push('cqm=jvt');
  else return { ok: false, reason: 'custom quantisation matrices' };

  const [psyRd, psyTrellis] = (o.psy_rd ?? '1.00:0.00').split(':').map(Number);
  if (!Number.isFinite(psyRd) || !Number.isFinite(psyTrellis)) return { ok: false, reason: `unexpected psy_rd=${o.psy_rd}` };
  params.push(`psy-rd=${psyRd!.toFixed(2)},${psyTrellis!.toFixed(2)}`);
  // The options string shows the chroma QP offset after x264 lowered it for psy-RD and psy-trellis;
  // ask for the value before, and x264 lowers it the same way again.
  const chroma = Number(o.chroma_qp_offset ?? '0');
  const psy = (o.psy ?? '1') !== '0';
  const subme = Number(o.subme ?? '7');
  const trellis = Number(o.trellis ?? '0');
  let adjust = 0;
  if (psy && subme >= 6 && psyRd! >= 1 / 512) adjust += psyRd! < 0.25 ? 1 : 2;
  if (psy && trellis > 0 && psyTrellis! >= 1 / 512) adjust += psyTrellis! < 0.25 ? 1 : 2;
  params.push(`chroma-qp-offset=${chroma + adjust}`);

  const hrd = o.nal_hrd ?? 'none';
  if (hrd !== 'none') {
    if (!o.vbv_maxrate || !o.vbv_bufsize) return { ok: false, reason: 'HRD without VBV settings' };
    params.push(`nal-hrd=${hrd}`, `vbv-maxrate=${o.vbv_maxrate}`, `vbv-bufsize=${o.vbv_bufsize}`);
  }
  params.push(`level=${level}`);

  const rc = o.rc ?? 'crf';
  let crf: number | undefined;
  if (rc === 'crf') {
    crf = Number(o.crf ?? '23');
    params.push(`crf=${crf}`);
  } else if (rc === 'cqp') {
    params.push(`qp=${Number(o.qp ?? '23')}`);
  } else if (rc === 'abr' || rc === 'cbr') {
    crf = 18;
    params.push('stitchable=1', `crf=${crf}`);
  } else {
    return { ok: false, reason: `rate control ${rc}` };
  }
  if (params.some((p) => p.includes(':') || /[\s]/.test(p))) return { ok: false, reason: 'unexpected characters in the options' };
  const out: MatchedSettings = { ok: true, x264Params: params.join(':') };
  if (crf !== undefined) out.crf = crf;
  return out;
}
