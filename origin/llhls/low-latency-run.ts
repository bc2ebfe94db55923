// One ffmpeg launch (a leg) of a low-latency live transcode (latencyMode 'low'): ffmpeg writes each rendition as
// fragmented MP4 to a pipe of its own (llhls-command.ts); each pipe is cut by the packager (P1's Fmp4FragmentReader +
// PartSegmenter) into LL-HLS parts, which go to the main thread as they come (ll_part), and 2 s segments, which are
// written next to the standard run's files: `init-{legTag}.mp4`, `{legTag}-{nnnnn}.m4s` and an EVENT `index.m3u8` in
// the shape of ffmpeg's (EXT-X-MAP before each leg's first segment, DISCONTINUITY between legs, PDT after EXTINF).
//
// LiveTranscode (origin/pipeline/live-transcode.ts) supervises a leg exactly as it supervises a standard ffmpeg: the
// handle below is an FfmpegRun (pid, kill, done), `done` resolving once ffmpeg has exited AND every segment it produced
// is on disk, so the transcode's playlist poll (segment events, leg_anchor, master) and the durable path see the same
// files in the same order as in standard mode. Resume and crash restarts are new legs: a new init, a DISCONTINUITY,
// the media sequence continuing from the playlist on disk.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { FfmpegExit, FfmpegProgress, FfmpegRun } from '../pipeline/ffmpeg.ts';
import { timemarkToSeconds } from '../pipeline/ffmpeg.ts';
import type { InputFormat, X264Preset } from '../pipeline/hls-command.ts';
import { MEDIA_PLAYLIST, renditionDir } from '../pipeline/hls-command.ts';
import type { Rendition } from '../pipeline/ladder.ts';
import type { LegClock } from '../pipeline/leg-clock.ts';
import { parseMediaPlaylist } from '../pipeline/playlists.ts';
import { formatProgramDateTime } from '../durable/program-date-time.ts';
import { initFileName, initOfSegment } from '../durable/fmp4-init.ts';
import { Fmp4FragmentReader } from './fmp4-fragments.ts';
import { PartSegmenter } from './part-segmenter.ts';
import { buildLowLatencyCommand, ladderFrameRate, partTargetSeconds } from './llhls-command.ts';

/** Worker → main thread messages of a low-mode run (CONTRACT15); the ArrayBuffers are transferred, never shared. */
export type LowLatencyEvent =
  | { type: 'll_init'; rendition: string; legTag: string; bytes: ArrayBuffer; codecs: string; partTargetSeconds?: number }
  | { type: 'll_part'; rendition: string; legTag: string; msn: number; part: number; duration: number; independent: boolean; bytes: ArrayBuffer }
  | { type: 'll_segment'; rendition: string; legTag: string; msn: number; duration: number; parts: number; programDateTime: number };

export const DEFAULT_PART_SECONDS = 0.2;

export { initFileName };
/** A leg's segment names: `{legTag}-{nnnnn}.m4s` (its init: `init-{legTag}.mp4`, origin/durable/fmp4-init.ts). */
export const fmp4SegmentName = (legTag: string, msn: number): string => `${legTag}-${String(msn).padStart(5, '0')}.m4s`;

export interface LowLatencyLegOptions {
  input: InputFormat;
  /** the session's folder; renditions in sub-folders named after them */
  outDir: string;
  renditions: readonly Rendition[];
  legTag: string;
  /** the encoder's bytes (FLV or MPEG-TS), piped to ffmpeg's stdin; ended when the encoder is gone */
  source: Readable;
  /** the wall clock of this leg's input: its anchor dates the leg's first segment (PDT) */
  clock: LegClock;
  segmentSeconds: number;
  partSeconds: number;
  hasAudio: boolean;
  sourceAudio?: 'copy' | 'aac';
  preset?: X264Preset;
  ffmpegPath?: string;
  onStart?(pid: number | undefined, args: string[]): void;
  onProgress?(p: FfmpegProgress): void;
  onEvent(e: LowLatencyEvent): void;
}

const STDERR_TAIL = 40;
/** file writes queued per rendition before its pipe is paused (ffmpeg then waits: a bounded backlog) */
const MAX_QUEUED_WRITES = 8;

/** Starts one leg; never throws (a failure to prepare or spawn is the run's exit, as a crashed ffmpeg would be). */
export function runLowLatencyLeg(opts: LowLatencyLegOptions): FfmpegRun {
  const tail: string[] = [];
  let child: ChildProcess | undefined;
  let pendingSignal: NodeJS.Signals | undefined;
  const note = (line: string): void => {
    tail.push(line);
    if (tail.length > STDERR_TAIL) tail.shift();
  };

  const done = (async (): Promise<FfmpegExit> => {
    let outputs: RenditionOutput[];
    try {
      outputs = await Promise.all(opts.renditions.map((r) => RenditionOutput.open(opts, r.name)));
    } catch (err) {
      note(`cannot prepare the renditions: ${(err as Error).message}`);
      return { code: null, signal: null, error: (err as Error).message, stderrTail: tail.slice() };
    }
    if (pendingSignal) return { code: null, signal: pendingSignal, stderrTail: tail.slice() };
    const cmd = buildLowLatencyCommand({
      input: opts.input,
      renditions: opts.renditions,
      // every rendition's fragments cut within the session's PART-TARGET (whole frames of the source), not the raw setting
      partSeconds: legPartTarget(opts),
      hasAudio: opts.hasAudio,
      ...(opts.sourceAudio ? { sourceAudio: opts.sourceAudio } : {}),
      ...(opts.preset ? { preset: opts.preset } : {}),
    });
    const stdio: ('pipe' | 'ignore')[] = ['pipe', 'ignore', 'pipe', ...cmd.fds.map(() => 'pipe' as const)];
    const proc = spawn(opts.ffmpegPath ?? 'ffmpeg', cmd.args, { stdio });
    child = proc;
    let spawnError: string | undefined;
    proc.once('error', (err) => (spawnError ??= err.message));
    opts.onStart?.(proc.pid, cmd.args);

    // stdin: the encoder's bytes; ffmpeg gone (EPIPE) is its exit's business, not an exception.
    proc.stdin!.on('error', () => {});
    opts.source.pipe(proc.stdin!);
    readProgress(proc.stderr!, note, opts.onProgress);

    const drained = outputs.map((o, i) =>
      o.consume(proc.stdio[cmd.fds[i]!] as Readable, (why) => {
        // A file we could not write (disk full above all) ends the leg the way ffmpeg's own failure would.
        note(why);
        proc.kill('SIGKILL');
      }),
    );
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
    if (pendingSignal) proc.kill(pendingSignal);
    const { code, signal } = await exited;
    opts.source.unpipe(proc.stdin!);
    await Promise.all(drained);
    const exit: FfmpegExit = { code, signal, stderrTail: tail.slice() };
    if (spawnError !== undefined) exit.error = spawnError;
    else if (code !== 0) exit.error = `ffmpeg exited with ${code ?? signal}`;
    return exit;
  })();

  return {
    pid: () => child?.pid,
    kill(signal) {
      if (!child) pendingSignal = signal;
      else if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    done,
  };
}

/** PART-TARGET of a leg: LL_PART_SECONDS as whole frames of the source (llhls-command.ts partTargetSeconds). */
export function legPartTarget(opts: Pick<LowLatencyLegOptions, 'partSeconds' | 'renditions'>): number {
  return partTargetSeconds(opts.partSeconds, ladderFrameRate(opts.renditions));
}

/** ffmpeg's `frame= … time=… bitrate=… speed=…` status lines, as runFfmpeg's progress; every line into the tail. */
function readProgress(stderr: Readable, note: (line: string) => void, onProgress?: (p: FfmpegProgress) => void): void {
  let partial = '';
  stderr.setEncoding('utf8');
  stderr.on('data', (d: string) => {
    const lines = (partial + d).split(/\r?\n|\r/);
    partial = (lines.pop() ?? '').slice(-4096);
    for (const line of lines) {
      if (line === '') continue;
      note(line);
      const time = /time=\s*(-?[\d:.]+)/.exec(line)?.[1];
      if (!time || !onProgress) continue;
      const num = (re: RegExp): number => Number(re.exec(line)?.[1] ?? 0) || 0;
      onProgress({ timemark: time, seconds: timemarkToSeconds(time), frames: num(/frame=\s*(\d+)/), fps: num(/fps=\s*([\d.]+)/), kbps: num(/bitrate=\s*([\d.]+)kbits/) });
    }
  });
}

/** One rendition of a leg: its pipe cut into parts and segments, its files and its on-disk playlist. */
class RenditionOutput {
  private readonly reader = new Fmp4FragmentReader();
  private readonly segmenter: PartSegmenter;
  private queue: Promise<void> = Promise.resolve();
  private queued = 0;
  private failed = false;
  private initWritten = false;
  /** seconds of this leg's segments so far: a segment's PDT is the leg's anchor plus this */
  private legElapsed = 0;

  private constructor(
    private readonly opts: LowLatencyLegOptions,
    private readonly rendition: string,
    private readonly dir: string,
    private readonly playlist: EventPlaylist,
  ) {
    // A leg's first segment ends at its second keyframe: see PartSegmenterOptions.closeFirstAtKeyframe.
    this.segmenter = new PartSegmenter({ segmentSeconds: opts.segmentSeconds, firstMsn: playlist.nextSequence, closeFirstAtKeyframe: true });
  }

  static async open(opts: LowLatencyLegOptions, rendition: string): Promise<RenditionOutput> {
    const dir = renditionDir(opts.outDir, rendition);
    const text = await readFile(path.join(dir, MEDIA_PLAYLIST), 'utf8').catch(() => undefined);
    return new RenditionOutput(opts, rendition, dir, EventPlaylist.continuing(text, opts.segmentSeconds));
  }

  /** Reads the pipe to its end; resolves once every segment it carried is on disk (or the writes failed). */
  consume(pipe: Readable, fail: (why: string) => void): Promise<void> {
    return new Promise((resolve) => {
      const onError = (err: unknown): void => {
        if (this.failed) return;
        this.failed = true;
        fail(`${this.rendition}: ${(err as Error).message}`);
      };
      pipe.on('data', (chunk: Buffer) => {
        if (this.failed) return;
        try {
          for (const unit of this.reader.push(chunk)) {
            if (unit.kind === 'init') this.onInit(unit.bytes, unit.codecs, onError);
            else for (const out of this.segmenter.push(unit)) this.onOutput(out, onError);
          }
        } catch (err) {
          onError(err);
        }
        if (this.queued >= MAX_QUEUED_WRITES) pipe.pause();
      });
      pipe.on('error', () => {});
      pipe.once('close', () => {
        if (!this.failed && this.initWritten) {
          try {
            for (const out of this.segmenter.flush()) this.onOutput(out, onError);
          } catch (err) {
            onError(err);
          }
        }
        void this.queue.then(() => resolve());
      });
      this.resumePipe = () => pipe.resume();
    });
  }

  private resumePipe: () => void = () => {};

  private enqueue(work: () => Promise<void>, onError: (err: unknown) => void): void {
    this.queued++;
    this.queue = this.queue.then(async () => {
      try {
        if (!this.failed) await work();
      } catch (err) {
        onError(err);
      } finally {
        this.queued--;
        if (this.queued < MAX_QUEUED_WRITES / 2) this.resumePipe();
      }
    });
  }

  private onInit(bytes: Uint8Array, codecs: string, onError: (err: unknown) => void): void {
    const { legTag } = this.opts;
    if (this.initWritten) return; // ffmpeg writes one moov per output; a second would be a bug of the reader's
    this.initWritten = true;
    this.opts.onEvent({ type: 'll_init', rendition: this.rendition, legTag, bytes: ownBuffer(bytes), codecs, partTargetSeconds: legPartTarget(this.opts) });
    const copy = bytes.slice();
    // The init is on disk before any segment of its leg is listed: queued first, the segments after it.
    this.enqueue(() => writeAtomic(path.join(this.dir, initFileName(legTag)), copy), onError);
  }

  private onOutput(out: SegmenterOutput, onError: (err: unknown) => void): void {
    const { legTag } = this.opts;
    if (out.type === 'part') {
      this.opts.onEvent({ type: 'll_part', rendition: this.rendition, legTag, msn: out.msn, part: out.part, duration: out.duration, independent: out.independent, bytes: ownBuffer(out.bytes) });
      return;
    }
    const anchor = this.opts.clock.anchor ?? Date.now() - out.duration * 1000;
    const programDateTime = Math.round(anchor + this.legElapsed * 1000);
    this.legElapsed += out.duration;
    const name = fmp4SegmentName(legTag, out.msn);
    const bytes = out.bytes;
    this.enqueue(async () => {
      await writeAtomic(path.join(this.dir, name), bytes);
      const text = this.playlist.add({ legTag, uri: name, sequence: out.msn, duration: out.duration, programDateTime });
      await writeAtomic(path.join(this.dir, MEDIA_PLAYLIST), text);
      this.opts.onEvent({ type: 'll_segment', rendition: this.rendition, legTag, msn: out.msn, duration: out.duration, parts: out.parts, programDateTime });
    }, onError);
  }
}

type SegmenterOutput = ReturnType<PartSegmenter['push']>[number];

/** An ArrayBuffer of exactly these bytes, owned by nobody else (it is transferred to the main thread). */
function ownBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer as ArrayBuffer;
}

export interface ListedSegment {
  legTag: string;
  uri: string;
  sequence: number;
  /** seconds */
  duration: number;
  /** epoch ms of the segment's first media */
  programDateTime: number;
}

// Tags that belong to the segment after them (RFC 8216 §4.3.2); everything before the first of them is the header.
const SEGMENT_TAG = /^#(EXTINF:|EXT-X-DISCONTINUITY$|EXT-X-PROGRAM-DATE-TIME:|EXT-X-BYTERANGE:|EXT-X-KEY:|EXT-X-MAP:|EXT-X-GAP$|EXT-X-BITRATE:|EXT-X-DATERANGE:)/;

/**
 * The on-disk EVENT playlist of one rendition, in ffmpeg's shape, pure: the lines of earlier legs kept as they were,
 * each new leg opened with DISCONTINUITY (when anything precedes it) and its EXT-X-MAP, PDT right after each EXTINF.
 * TARGETDURATION follows the longest segment, as ffmpeg's does.
 */
export class EventPlaylist {
  private mediaSequence: number;
  private count: number;
  private maxDuration: number;
  private readonly body: string[];
  private currentLeg: string | undefined;

  private constructor(mediaSequence: number, count: number, maxDuration: number, body: string[]) {
    this.mediaSequence = mediaSequence;
    this.count = count;
    this.maxDuration = maxDuration;
    this.body = body;
  }

  /** A playlist continuing `text` (the one on disk; undefined: none yet). A closed one (ENDLIST) is reopened. */
  static continuing(text: string | undefined, segmentSeconds: number): EventPlaylist {
    if (text === undefined) return new EventPlaylist(0, 0, segmentSeconds, []);
    let pl;
    try {
      pl = parseMediaPlaylist(text);
    } catch {
      return new EventPlaylist(0, 0, segmentSeconds, []);
    }
    const body: string[] = [];
    let inHeader = true;
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line === '' || line === '#EXT-X-ENDLIST') continue;
      if (inHeader && line.startsWith('#') && !SEGMENT_TAG.test(line)) continue;
      inHeader = false;
      body.push(line);
    }
    const longest = pl.segments.reduce((m, s) => Math.max(m, s.duration), segmentSeconds);
    return new EventPlaylist(pl.mediaSequence, pl.segments.length, longest, body);
  }

  /** the media sequence number the next segment gets */
  get nextSequence(): number {
    return this.mediaSequence + this.count;
  }

  /** Lists one more segment; returns the whole playlist's text. */
  add(seg: ListedSegment): string {
    if (seg.sequence !== this.nextSequence) throw new Error(`segment ${seg.sequence} does not follow ${this.nextSequence - 1}`);
    if (seg.legTag !== this.currentLeg) {
      if (this.count > 0) this.body.push('#EXT-X-DISCONTINUITY');
      this.body.push(`#EXT-X-MAP:URI="${initFileName(seg.legTag)}"`);
      this.currentLeg = seg.legTag;
    }
    this.body.push(`#EXTINF:${seg.duration.toFixed(6)},`, `#EXT-X-PROGRAM-DATE-TIME:${formatProgramDateTime(seg.programDateTime)}`, seg.uri);
    this.count++;
    this.maxDuration = Math.max(this.maxDuration, seg.duration);
    return this.text();
  }

  text(): string {
    const header = [
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      `#EXT-X-TARGETDURATION:${Math.ceil(this.maxDuration - 0.0005)}`,
      `#EXT-X-MEDIA-SEQUENCE:${this.mediaSequence}`,
      '#EXT-X-PLAYLIST-TYPE:EVENT',
      '#EXT-X-INDEPENDENT-SEGMENTS',
    ];
    return `${[...header, ...this.body].join('\n')}\n`;
  }
}

/**
 * CODECS of a low-mode segment's rendition, from its leg's init segment next to it (`{legTag}-{n}.m4s` →
 * `init-{legTag}.mp4`): the master playlist's source in low mode, where the standard run reads a .ts segment.
 */
export async function codecsOfFmp4Segment(segmentFile: string): Promise<{ video?: string; audio?: string }> {
  const init = initOfSegment(path.basename(segmentFile));
  if (!init) return {};
  const bytes = await readFile(path.join(path.dirname(segmentFile), init)).catch(() => undefined);
  if (!bytes) return {};
  try {
    for (const unit of new Fmp4FragmentReader().push(bytes)) {
      if (unit.kind !== 'init') continue;
      const list = unit.codecs.split(',').map((c) => c.trim());
      const out: { video?: string; audio?: string } = {};
      const video = list.find((c) => /^(avc|hvc|hev|av01|vp09)/.test(c));
      const audio = list.find((c) => /^(mp4a|opus|ac-3|ec-3)/.test(c));
      if (video) out.video = video;
      if (audio) out.audio = audio;
      return out;
    }
  } catch {
    // not a readable init: the caller falls back to the ladder's expected codecs
  }
  return {};
}

/**
 * The packaging a session's playlists on disk already use ('low': fMP4 segments, 'standard': MPEG-TS), or undefined
 * before any segment: a resumed session keeps it whatever its stream's setting says now, as an EVENT playlist cannot
 * go from fMP4 back to MPEG-TS (an EXT-X-MAP applies to every segment after it).
 */
export async function sessionLatencyMode(outDir: string, renditions: readonly Rendition[]): Promise<'standard' | 'low' | undefined> {
  for (const r of renditions) {
    const text = await readFile(path.join(renditionDir(outDir, r.name), MEDIA_PLAYLIST), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let last;
    try {
      last = parseMediaPlaylist(text).segments.at(-1);
    } catch {
      continue;
    }
    if (last) return initOfSegment(last.uri) !== null ? 'low' : 'standard';
  }
  return undefined;
}

/** Readers (the HLS server, the shipper, the edge) never see a half-written file. */
async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
