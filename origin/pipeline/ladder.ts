// Chooses a stream's HLS renditions (the ABR ladder) from what the encoder sends and the stream's settings.
// Pure: the same source and settings always give the same ladder, so a resumed session can rebuild it.

export type H264Profile = 'H264Baseline' | 'H264Main' | 'H264High' | 'H264ConstrainedHigh';
export type MaxResolution = '2160p' | '1440p' | '1080p' | '720p' | '480p' | '360p';

/** A transcoding profile as the API accepts it (seed 002 field names). */
export interface Profile {
  name: string;
  width: number;
  height: number;
  /** bits per second */
  bitrate: number;
  /** 0 or missing: keep the source frame rate */
  fps: number;
  fpsDen?: number;
  /** keyframe interval in seconds */
  gop?: number;
  profile?: H264Profile;
  /** CRF-like 0–44; the bitrate then acts as a cap */
  quality?: number;
  encoder?: 'H.264';
}

export interface LadderSettings {
  profiles?: readonly Profile[] | null;
  maxResolution?: MaxResolution | null;
}

/** What we know of the encoder's video, usually from onMetaData. */
export interface SourceInfo {
  width: number;
  height: number;
  /** frames per second as sent (29.97 is fine); 0 or missing means unknown */
  fps?: number;
  /** bits per second, when the encoder declared it */
  videoBitrate?: number;
  audioBitrate?: number;
}

interface RenditionBase {
  /** safe as a folder name: [a-z0-9_-], unique in the ladder */
  name: string;
  width: number;
  height: number;
  /** bits per second; for the source an estimate when the encoder declared none */
  videoBitrate: number;
  audioBitrate: number;
  /** frame rate as fps / fpsDen */
  fps: number;
  fpsDen: number;
}

/** The encoder's own video passed through (`-c:v copy`): segments cut at the encoder's keyframes. */
export interface SourceRendition extends RenditionBase {
  copy: true;
}

/** A rung encoded with libx264. */
export interface EncodedRendition extends RenditionBase {
  copy: false;
  /** keyframe interval in seconds; divides the segment duration so keyframes align across renditions */
  gop: number;
  profile: H264Profile;
  /** H.264 level_idc, e.g. 31 for 3.1; set explicitly so the master's CODECS is known in advance */
  level: number;
  quality?: number;
  /** true when the rung takes fewer frames per second than the source sends */
  reducedFps: boolean;
}

export type Rendition = SourceRendition | EncodedRendition;

export const SOURCE_RENDITION_NAME = 'source';
export const DEFAULT_SEGMENT_SECONDS = 2;

const MAX_RESOLUTION_LINES: Record<MaxResolution, number> = {
  '2160p': 2160,
  '1440p': 1440,
  '1080p': 1080,
  '720p': 720,
  '480p': 480,
  '360p': 360,
};

const DEFAULT_RUNGS = [1080, 720, 480, 360] as const;

/** Video bitrate (bps) of a rung at 30 fps, keyed by its line count. */
const RUNG_BITRATE: Record<number, number> = {
  2160: 16_000_000,
  1440: 9_000_000,
  1080: 5_000_000,
  720: 3_000_000,
  480: 1_400_000,
  360: 800_000,
};
const MIN_VIDEO_BITRATE = 200_000;
const MAX_FPS = 60;

/**
 * The ladder for a source: the source passed through (when it fits under maxResolution)
 * plus encoded rungs strictly below it, or the explicit profiles instead of the default rungs.
 * Lines are counted on the short side so portrait video gets the same ladder as landscape.
 */
export function chooseLadder(source: SourceInfo, settings: LadderSettings = {}): Rendition[] {
  const src = normalizeSource(source);
  const cap = settings.maxResolution ? MAX_RESOLUTION_LINES[settings.maxResolution] : Infinity;
  const srcLines = Math.min(src.width, src.height);
  const ladder: Rendition[] = [];
  const names = new Set<string>([SOURCE_RENDITION_NAME]);

  if (srcLines <= cap) ladder.push(sourceRendition(src));

  if (settings.profiles && settings.profiles.length > 0) {
    for (const p of settings.profiles) {
      const rung = profileRendition(p, src, cap, names);
      if (rung) ladder.push(rung);
    }
  } else {
    const lines = new Set<number>();
    if (srcLines > cap) lines.add(cap);
    for (const l of DEFAULT_RUNGS) if (l < srcLines && l <= cap) lines.add(l);
    for (const l of [...lines].sort((a, b) => b - a)) {
      ladder.push(defaultRung(l, src, names));
    }
  }

  // Never an empty ladder: a source above the cap with every profile dropped still gets one rung.
  if (ladder.length === 0) ladder.push(defaultRung(Math.min(cap, srcLines), src, names));
  return ladder;
}

/**
 * The ladder of a publisher beyond this origin's capacity (origin/admission): the encoder's rendition copied, nothing
 * encoded. It ignores maxResolution: scaling a source down is an encode, which is exactly what there is no room for.
 */
export function sourceOnlyLadder(source: SourceInfo): Rendition[] {
  return [sourceRendition(normalizeSource(source))];
}

/** H.264 level_idc (e.g. 31) that admits this frame size, frame rate and peak bitrate. */
export function h264Level(width: number, height: number, fps: number, maxBitrate = 0): number {
  const frameMbs = Math.ceil(width / 16) * Math.ceil(height / 16);
  const mbps = frameMbs * fps;
  for (const l of H264_LEVELS) {
    if (frameMbs <= l.maxFs && mbps <= l.maxMbps && maxBitrate <= l.maxBr) return l.level;
  }
  return 52;
}

// Table A-1 of H.264, from 3.0 up (smaller levels gain nothing for HLS players).
const H264_LEVELS = [
  { level: 30, maxMbps: 40_500, maxFs: 1_620, maxBr: 10_000_000 },
  { level: 31, maxMbps: 108_000, maxFs: 3_600, maxBr: 14_000_000 },
  { level: 32, maxMbps: 216_000, maxFs: 5_120, maxBr: 20_000_000 },
  { level: 40, maxMbps: 245_760, maxFs: 8_192, maxBr: 20_000_000 },
  { level: 41, maxMbps: 245_760, maxFs: 8_192, maxBr: 50_000_000 },
  { level: 42, maxMbps: 522_240, maxFs: 8_704, maxBr: 50_000_000 },
  { level: 50, maxMbps: 589_824, maxFs: 22_080, maxBr: 135_000_000 },
  { level: 51, maxMbps: 983_040, maxFs: 36_864, maxBr: 240_000_000 },
  { level: 52, maxMbps: 2_073_600, maxFs: 36_864, maxBr: 240_000_000 },
] as const;

/** A frame rate as a fraction, recognising the NTSC rates (29.97 → 30000/1001). */
export function rationalFps(fps: number): { fps: number; fpsDen: number } {
  if (!Number.isFinite(fps) || fps <= 0) return { fps: 30, fpsDen: 1 };
  const ntsc = Math.round(fps * 1.001);
  if (Math.abs(fps - ntsc / 1.001) < 0.005 && Math.abs(fps - ntsc) > 0.005) {
    return { fps: ntsc * 1000, fpsDen: 1001 };
  }
  return { fps: Math.max(1, Math.round(fps)), fpsDen: 1 };
}

interface NormalizedSource {
  width: number;
  height: number;
  fps: number;
  fpsDen: number;
  videoBitrate?: number;
  audioBitrate?: number;
}

function normalizeSource(s: SourceInfo): NormalizedSource {
  const width = evenAtLeast2(s.width);
  const height = evenAtLeast2(s.height);
  const r = rationalFps(s.fps ?? 0);
  const out: NormalizedSource = { width, height, ...r };
  if (s.videoBitrate && s.videoBitrate > 0) out.videoBitrate = Math.round(s.videoBitrate);
  if (s.audioBitrate && s.audioBitrate > 0) out.audioBitrate = Math.round(s.audioBitrate);
  return out;
}

function sourceRendition(src: NormalizedSource): SourceRendition {
  const lines = Math.min(src.width, src.height);
  return {
    name: SOURCE_RENDITION_NAME,
    copy: true,
    width: src.width,
    height: src.height,
    videoBitrate: src.videoBitrate ?? scaledBitrate(lines, src.fps / src.fpsDen),
    audioBitrate: src.audioBitrate ?? 128_000,
    fps: src.fps,
    fpsDen: src.fpsDen,
  };
}

function defaultRung(lines: number, src: NormalizedSource, names: Set<string>): EncodedRendition {
  const { width, height } = fitLines(src.width, src.height, lines);
  // Small rungs drop to a whole fraction of the source rate (60 → 30) so motion keeps its cadence.
  const srcRate = src.fps / src.fpsDen;
  const ceiling = lines <= 480 ? 30 : MAX_FPS;
  const divisor = srcRate > ceiling + 0.5 ? Math.ceil(srcRate / (ceiling + 0.5)) : 1;
  const fps = src.fpsDen === 1 && src.fps % divisor === 0 ? { fps: src.fps / divisor, fpsDen: 1 } : { fps: src.fps, fpsDen: src.fpsDen * divisor };
  const rate = fps.fps / fps.fpsDen;
  let videoBitrate = scaledBitrate(lines, rate);
  // A rung below the source gains nothing from more bits than the source itself carries.
  if (src.videoBitrate) videoBitrate = Math.max(MIN_VIDEO_BITRATE, Math.min(videoBitrate, src.videoBitrate));
  const profile: H264Profile = lines >= 720 ? 'H264High' : 'H264Main';
  return {
    name: uniqueName(`${lines}p`, names),
    copy: false,
    width,
    height,
    videoBitrate,
    audioBitrate: lines >= 720 ? 128_000 : 96_000,
    ...fps,
    gop: DEFAULT_SEGMENT_SECONDS,
    profile,
    reducedFps: divisor > 1,
    level: h264Level(width, height, rate, Math.round(videoBitrate * 1.1)),
  };
}

function profileRendition(p: Profile, src: NormalizedSource, cap: number, names: Set<string>): EncodedRendition | undefined {
  let width = Number.isFinite(p.width) && p.width > 0 ? p.width : 0;
  let height = Number.isFinite(p.height) && p.height > 0 ? p.height : 0;
  if (!width && !height) return undefined;
  // A missing side follows the source's aspect ratio.
  if (!width) width = (height * src.width) / src.height;
  if (!height) height = (width * src.height) / src.width;
  width = evenAtLeast2(width);
  height = evenAtLeast2(height);
  // No upscaling: a rung bigger than the source only costs CPU and bandwidth.
  if (width * height > src.width * src.height) return undefined;
  if (Math.min(width, height) > cap) return undefined;

  const srcRate = src.fps / src.fpsDen;
  let fps = { fps: src.fps, fpsDen: src.fpsDen };
  let reducedFps = false;
  if (Number.isFinite(p.fps) && p.fps > 0) {
    const den = p.fpsDen && p.fpsDen > 0 ? Math.round(p.fpsDen) : 1;
    // Never above the source rate: duplicated frames are wasted bits.
    if (p.fps / den < srcRate - 0.01) {
      fps = { fps: Math.round(p.fps), fpsDen: den };
      reducedFps = true;
    }
  }
  const rate = fps.fps / fps.fpsDen;
  const videoBitrate = Number.isFinite(p.bitrate) && p.bitrate > 0 ? Math.max(MIN_VIDEO_BITRATE, Math.round(p.bitrate)) : scaledBitrate(Math.min(width, height), rate);
  const lines = Math.min(width, height);
  const rung: EncodedRendition = {
    name: uniqueName(safeName(p.name) || `${lines}p`, names),
    copy: false,
    width,
    height,
    videoBitrate,
    audioBitrate: lines >= 720 ? 128_000 : 96_000,
    ...fps,
    gop: alignedGop(p.gop),
    profile: p.profile ?? (lines >= 720 ? 'H264High' : 'H264Main'),
    level: h264Level(width, height, rate, Math.round(videoBitrate * 1.1)),
    reducedFps,
  };
  if (p.quality !== undefined && Number.isFinite(p.quality)) rung.quality = Math.min(44, Math.max(0, Math.round(p.quality)));
  return rung;
}

/** A GOP that divides the segment duration, so every segment still starts on a shared keyframe. */
function alignedGop(gop: number | undefined): number {
  if (gop === undefined || !Number.isFinite(gop) || gop <= 0) return DEFAULT_SEGMENT_SECONDS;
  const n = Math.round(DEFAULT_SEGMENT_SECONDS / gop);
  if (n >= 1 && Math.abs(DEFAULT_SEGMENT_SECONDS / n - gop) < 1e-6) return gop;
  return DEFAULT_SEGMENT_SECONDS;
}

function scaledBitrate(lines: number, rate: number): number {
  const known = RUNG_BITRATE[lines];
  const base = known ?? Math.round(RUNG_BITRATE[720]! * ((lines * lines) / (720 * 720)));
  // High frame rates need more bits, though far from proportionally.
  return Math.max(MIN_VIDEO_BITRATE, Math.round(rate > 31 ? base * 1.5 : base));
}

function fitLines(srcW: number, srcH: number, lines: number): { width: number; height: number } {
  if (srcW >= srcH) return { width: evenAtLeast2((srcW * lines) / srcH), height: evenAtLeast2(lines) };
  return { width: evenAtLeast2(lines), height: evenAtLeast2((srcH * lines) / srcW) };
}

function evenAtLeast2(n: number): number {
  if (!Number.isFinite(n) || n < 2) return 2;
  return Math.max(2, Math.round(n / 2) * 2);
}

function safeName(name: string | undefined): string {
  return (name ?? '')
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 32);
}

function uniqueName(base: string, names: Set<string>): string {
  let name = base;
  for (let i = 2; names.has(name); i++) name = `${base}-${i}`;
  names.add(name);
  return name;
}

/** The onMetaData fields we read (AMF0 object from the encoder; every field may be missing or odd). */
export interface StreamMetadata {
  width?: unknown;
  height?: unknown;
  framerate?: unknown;
  fps?: unknown;
  /** kbps */
  videodatarate?: unknown;
  /** kbps */
  audiodatarate?: unknown;
  audiocodecid?: unknown;
  [key: string]: unknown;
}

/** What the pipeline learns from onMetaData: the ladder's input plus how to treat the audio. */
export interface DescribedSource extends SourceInfo {
  /** 'none' only when the metadata names no audio at all; 'unknown' when it cannot tell */
  audio: 'aac' | 'other' | 'none' | 'unknown';
}

export function describeSource(meta: StreamMetadata | null | undefined, fallback: { width: number; height: number } = { width: 1280, height: 720 }): DescribedSource {
  const m = meta ?? {};
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined);
  const out: DescribedSource = {
    width: num(m.width) ?? fallback.width,
    height: num(m.height) ?? fallback.height,
    audio: 'unknown',
  };
  const fps = num(m.framerate) ?? num(m.fps);
  if (fps !== undefined) out.fps = fps;
  const vk = num(m.videodatarate);
  if (vk !== undefined) out.videoBitrate = Math.round(vk * 1000);
  const ak = num(m.audiodatarate);
  if (ak !== undefined) out.audioBitrate = Math.round(ak * 1000);
  // FLV SoundFormat 10 is AAC; enhanced RTMP encoders send the FourCC instead.
  const codec = m.audiocodecid;
  if (codec === 10 || codec === 'mp4a' || codec === 'mp4a.40.2') out.audio = 'aac';
  else if (codec !== undefined && codec !== null && codec !== '') out.audio = 'other';
  // Encoders that send audio describe it in onMetaData; a full video description without a word on
  // audio means there is none. When unsure we say 'unknown': assuming audio is the safe side, since
  // live-transcode drops to video only when ffmpeg finds no audio stream.
  else if (num(m.width) && num(m.height) && !['audiodatarate', 'audiosamplerate', 'audiosamplesize', 'stereo', 'audiochannels'].some((k) => k in m)) out.audio = 'none';
  return out;
}
