// The durable path of a low-latency (fMP4) session, with real ffmpeg: two legs made by the low-mode live transcode (a
// reconnect between them), shipped to a storage stand-in (each leg's init stored before the first segment of its leg,
// durable playlists with EXT-X-MAP and the legs' anchored PDTs, ENDLIST at the end), brought back from storage for a
// recording export (an MP4 of the whole session across the join), cut into a clip, thumbnailed, and its timeline
// restored on another origin where a third leg continues the sequence.
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DurableStore } from '../../origin/durable/session-shipper.ts';
import { SessionShipper } from '../../origin/durable/session-shipper.ts';
import { UploadLanes } from '../../origin/durable/upload-lanes.ts';
import { restoreTimeline } from '../../origin/durable/timeline-restore.ts';
import { formatProgramDateTime } from '../../origin/durable/program-date-time.ts';
import { materializeSession } from '../../origin/jobs/durable-session.ts';
import { exportRecording } from '../../origin/jobs/export-recording.ts';
import { cutClip } from '../../origin/jobs/clip.ts';
import { readSourceRendition } from '../../origin/jobs/session-media.ts';
import { writeThumbnail } from '../../origin/pipeline/thumbnail.ts';
import { chooseLadder } from '../../origin/pipeline/ladder.ts';
import { LiveTranscode, type LiveTranscodeEvent } from '../../origin/pipeline/live-transcode.ts';
import { parseMediaPlaylist } from '../../origin/pipeline/playlists.ts';
import { decodeErrors, encodeInput, ffprobeJson } from './jobs/session-fixture.ts';

const PREFIX = 'live/str/ses/';
const LEG_SECONDS = 6;
const ladder = chooseLadder({ width: 854, height: 480, fps: 30 });

let tmp: string;
let dir: string;
const legEvents: LiveTranscodeEvent[][] = [];
/** the storage stand-in: R2 keys and bodies, and the order they were stored in */
const stored = new Map<string, Buffer>();
const order: string[] = [];
const store: DurableStore = {
  async uploadFile(key, file) {
    const body = await readFile(file);
    stored.set(key, body);
    order.push(key);
    return body.length;
  },
  async uploadBytes(key, bytes) {
    stored.set(key, Buffer.from(bytes));
    order.push(key);
    return bytes.length;
  },
  async read(key) {
    return stored.get(key) ?? null;
  },
};

/** One encoder connection through the low-mode live transcode (mpegts, as SRT brings it). */
async function leg(outDir: string, input: string, resume: boolean): Promise<LiveTranscodeEvent[]> {
  const events: LiveTranscodeEvent[] = [];
  const t = new LiveTranscode({ input: 'mpegts', outDir, renditions: ladder, resume, preset: 'ultrafast', latencyMode: 'low', pollIntervalMs: 200 }, (e) => events.push(e));
  await t.start();
  const bytes = await readFile(input);
  for (let off = 0; off < bytes.length; off += 64 * 1024) t.write(bytes.subarray(off, off + 64 * 1024));
  t.end();
  const r = await t.done;
  if (r.reason !== 'input-ended' || r.exitCode !== 0) throw new Error(`low-mode leg ended with ${r.reason} (${r.error ?? r.exitCode})`);
  return events;
}

const r2Text = (key: string): string => stored.get(PREFIX + key)!.toString('utf8');
const legOf = (uri: string): string => uri.split('-')[0]!;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'llhls-durable-'));
  const inputs = [path.join(tmp, 'a.ts'), path.join(tmp, 'b.ts')];
  await Promise.all(inputs.map((f) => encodeInput(f, { seconds: LEG_SECONDS, gop: 30 })));
  dir = path.join(tmp, 'session');
  for (const [i, input] of inputs.entries()) legEvents.push(await leg(dir, input, i > 0));
}, 90_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('shipping a low-latency session', () => {
  let shipper: SessionShipper;

  beforeAll(async () => {
    shipper = new SessionShipper({ streamId: 'str', sessionId: 'ses', outDir: dir, prefix: PREFIX, grant: 'g', store, lanes: new UploadLanes(4) });
    for (const events of legEvents) for (const e of events) if (e.type === 'leg_anchor') shipper.setLegAnchor(e.legTag, e.at);
    await shipper.start();
    expect(await shipper.flush(20_000)).toBe(true);
  }, 30_000);

  afterAll(() => shipper.close());

  it('stores every leg\'s init segment before the first segment of its leg, and both before the playlist names them', () => {
    for (const r of ladder) {
      const pl = parseMediaPlaylist(r2Text(`${r.name}/index.m3u8`));
      expect(pl.segments.length).toBeGreaterThanOrEqual(5);
      expect(pl.segments.every((s) => s.uri.endsWith('.m4s'))).toBe(true);
      const legs = [...new Set(pl.segments.map((s) => legOf(s.uri)))];
      expect(legs).toHaveLength(2);
      for (const legTag of legs) {
        const initKey = `${PREFIX}${r.name}/init-${legTag}.mp4`;
        const firstSegment = pl.segments.find((s) => legOf(s.uri) === legTag)!;
        expect(order.indexOf(initKey)).toBeGreaterThanOrEqual(0);
        expect(order.indexOf(initKey)).toBeLessThan(order.indexOf(`${PREFIX}${r.name}/${firstSegment.uri}`));
        // the first playlist stored after the leg's first segment is the first that can name it (only stored ones are)
        const segmentAt = order.indexOf(`${PREFIX}${r.name}/${firstSegment.uri}`);
        expect(order.indexOf(initKey)).toBeLessThan(order.indexOf(`${PREFIX}${r.name}/index.m3u8`, segmentAt));
      }
      // Exactly the files the origin wrote: .m4s segments and one init per leg, nothing else of the rendition.
      const keys = [...stored.keys()].filter((k) => k.startsWith(`${PREFIX}${r.name}/`)).map((k) => k.slice(PREFIX.length + r.name.length + 1)).sort();
      expect(keys).toEqual([...legs.map((l) => `init-${l}.mp4`), 'index.m3u8', ...pl.segments.map((s) => s.uri)].sort());
    }
  });

  it('lists each leg with its EXT-X-MAP, a DISCONTINUITY between legs, and PDTs from the legs\' anchors', () => {
    const text = r2Text('source/index.m3u8');
    const pl = parseMediaPlaylist(text);
    expect(text.match(/^#EXT-X-MAP:URI="init-[0-9a-f]{6}\.mp4"$/gm)).toHaveLength(2);
    const join = pl.segments.findIndex((s) => s.discontinuity);
    expect(join).toBeGreaterThan(0);
    expect(pl.segments.filter((s) => s.discontinuity)).toHaveLength(1);
    const anchor = legEvents[1]!.find((e) => e.type === 'leg_anchor');
    expect(anchor?.type).toBe('leg_anchor');
    if (anchor?.type !== 'leg_anchor') return;
    // The second leg's first segment is dated at its anchor exactly (program-date-time.ts rewrote it).
    const lines = text.split('\n');
    const uriAt = lines.indexOf(pl.segments[join]!.uri);
    expect(lines.slice(uriAt - 3, uriAt)).toContain(`#EXT-X-PROGRAM-DATE-TIME:${formatProgramDateTime(anchor.at)}`);
  });

  it('closes the durable playlists with ENDLIST when the session ends', async () => {
    expect(await shipper.finalize(20_000)).toBe('final');
    for (const r of ladder) expect(parseMediaPlaylist(r2Text(`${r.name}/index.m3u8`)).endList).toBe(true);
  });
});

describe('jobs over a low-latency session', () => {
  it('reads the fMP4 source rendition with every segment kept', async () => {
    const source = await readSourceRendition(dir);
    expect(source.dropped).toEqual([]);
    expect(source.segments.filter((s) => s.discontinuity)).toHaveLength(1);
    expect(source.duration).toBeCloseTo(2 * LEG_SECONDS, 0);
  });

  it('exports the recording from storage: one MP4 of both legs, decodable, as long as the media sent', async () => {
    const scratch = path.join(tmp, 'scratch-export');
    await mkdir(scratch, { recursive: true });
    const m = await materializeSession({ read: async (key) => stored.get(key) ?? null, prefix: PREFIX, scratchDir: scratch, want: { kind: 'export' } });
    expect(m.missing).toEqual([]);
    expect((await readdir(path.join(m.dir, m.rendition))).filter((f) => f.startsWith('init-'))).toHaveLength(2);
    const rec = await exportRecording({ sessionDir: m.dir, outDir: path.join(tmp, 'rec') });
    expect(rec.discontinuities).toBe(1);
    expect(rec.droppedSegments).toEqual([]);
    const j = await ffprobeJson<{ format: { duration: string }; streams: { codec_type: string; codec_name: string }[] }>(['-show_format', '-show_streams', rec.mp4Path]);
    expect(j.streams.map((s) => `${s.codec_type}:${s.codec_name}`).sort()).toEqual(['audio:aac', 'video:h264']);
    expect(Math.abs(Number(j.format.duration) - 2 * LEG_SECONDS)).toBeLessThan(1);
    expect(await decodeErrors(rec.mp4Path)).toBe('');
  }, 60_000);

  it('cuts a clip across the join, keyframe-aligned, from the fMP4 segments', async () => {
    const clip = await cutClip({ sessionDir: dir, startTime: LEG_SECONDS - 2, endTime: LEG_SECONDS + 2, outDir: path.join(tmp, 'clip') });
    expect(clip.method).toBe('keyframe');
    expect(clip.duration).toBeGreaterThan(3.5);
    expect(clip.duration).toBeLessThan(6);
    // Decodes cleanly. The null muxer's own complaint is left out: it times frames on the clip's average rate, and the
    // join (the concat plan starts the second leg where the first one's audio ends) leaves one frame gap of ~70 ms.
    const errors = (await decodeErrors(clip.mp4Path)).split('\n').filter((l) => l !== '' && !/^\[null @ \S+\] Application provided invalid, non monotonically increasing dts/.test(l));
    expect(errors).toEqual([]);
  }, 60_000);

  it('makes a thumbnail from an fMP4 segment', async () => {
    const pl = parseMediaPlaylist(await readFile(path.join(dir, 'source', 'index.m3u8'), 'utf8'));
    const target = path.join(tmp, 'thumb.jpg');
    await writeThumbnail(path.join(dir, 'source', pl.segments.at(-2)!.uri), target);
    const head = (await readFile(target)).subarray(0, 2);
    expect([...head]).toEqual([0xff, 0xd8]);
    expect((await stat(target)).size).toBeGreaterThan(1000);
  });
});

describe('resuming a low-latency session on another origin', () => {
  it('restores the timeline from storage and continues with a third leg after the stored sequence', async () => {
    const other = path.join(tmp, 'other-origin');
    const restored = await restoreTimeline({ read: async (key) => stored.get(key) ?? null, prefix: PREFIX, outDir: other });
    const before = restored.renditions.source!;
    expect(before).toBeGreaterThan(4);
    const third = await leg(other, path.join(tmp, 'a.ts'), true);
    const pl = parseMediaPlaylist(await readFile(path.join(other, 'source', 'index.m3u8'), 'utf8'));
    expect(pl.segments.map((s) => s.sequence)).toEqual(pl.segments.map((_, i) => i));
    expect(pl.segments.filter((s) => s.discontinuity).map((s) => s.sequence)).toEqual([expect.any(Number), before + 1]);
    const firstNew = third.find((e) => e.type === 'll_segment' && e.rendition === 'source');
    expect(firstNew?.type === 'll_segment' && firstNew.msn).toBe(before + 1);
  }, 60_000);
});
