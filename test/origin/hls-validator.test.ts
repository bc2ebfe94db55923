// The LL-HLS validator of the e2e tests (test/support/hls-validator.ts) on hand-written playlists and hand-built fMP4
// bytes: a correct pair of renditions passes, and each rule it enforces fails when broken on purpose.
import { describe, expect, it } from 'vitest';
import { lastListedPart, parseLlPlaylist, readInitTracks, startsWithKeyframe, validateLlPlaylist } from '../support/hls-validator.ts';

const BASE = 'http://127.0.0.1:8787/hls/pb1/ses_1';
const URL_720 = `${BASE}/720p/index.m3u8`;
const URL_360 = `${BASE}/360p/index.m3u8`;

/** Two 2 s segments with 4 parts of 0.5 s each, the third in progress with 2 parts; reports for `other`. */
function playlist(other: string, lastPart = 1): string {
  return `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5,CAN-SKIP-UNTIL=12.0
#EXT-X-PART-INF:PART-TARGET=0.5
#EXT-X-MAP:URI="init-a1.mp4"
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T16:00:00.000Z
#EXTINF:2.00000,
a1-00010.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-11-28T16:00:02.000Z
#EXT-X-PART:DURATION=0.50000,URI="a1-00011.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI="a1-00011.1.m4s"
#EXT-X-PART:DURATION=0.50000,URI="a1-00011.2.m4s"
#EXT-X-PART:DURATION=0.50000,URI="a1-00011.3.m4s"
#EXTINF:2.00000,
a1-00011.m4s
#EXT-X-PART:DURATION=0.50000,URI="a1-00012.0.m4s",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.50000,URI="a1-00012.1.m4s"
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="a1-00012.2.m4s"
#EXT-X-RENDITION-REPORT:URI="../${other}/index.m3u8",LAST-MSN=12,LAST-PART=${lastPart}
`;
}

const P720 = playlist('360p');
const P360 = playlist('720p');
const others = [{ url: URL_720, text: P720 }, { url: URL_360, text: P360 }];

// ---- hand-built fMP4: video track 1, audio track 2 ----
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
const box = (type: string, ...body: number[][]) => {
  const payload = body.flat();
  return [...u32(8 + payload.length), ...ascii(type), ...payload];
};
const NON_SYNC = 0x01010000;
const SYNC = 0x02000000;
const trak = (id: number, handler: string) =>
  box('trak', box('tkhd', u32(3), u32(0), u32(0), u32(id), u32(0)), box('mdia', box('hdlr', u32(0), u32(0), ascii(handler), u32(0))));
const trex = (id: number, flags: number) => box('trex', u32(0), u32(id), u32(1), u32(0), u32(0), u32(flags));
const INIT = new Uint8Array([...box('ftyp', ascii('iso6'), u32(0)), ...box('moov', trak(1, 'vide'), trak(2, 'soun'), box('mvex', trex(1, NON_SYNC), trex(2, SYNC)))]);
/** a fragment whose video trun carries first-sample flags `first` (or none: the trex default applies) */
function fragment(first: number | null): Uint8Array {
  const audio = box('traf', box('tfhd', u32(0x020000), u32(2)), box('trun', u32(0x000001), u32(10), u32(0)));
  const videoTrun = first === null ? box('trun', u32(0x000001), u32(6), u32(0)) : box('trun', u32(0x000005), u32(6), u32(0), u32(first));
  const video = box('traf', box('tfhd', u32(0x020000), u32(1)), videoTrun);
  return new Uint8Array([...box('moof', box('mfhd', u32(0), u32(1)), audio, video), ...box('mdat', [1, 2, 3, 4])]);
}

describe('LL-HLS playlist parsing', () => {
  it('reads segments, parts, the segment in progress, hints and reports', () => {
    const p = parseLlPlaylist(P720);
    expect(p.partTarget).toBe(0.5);
    expect(p.segments.map((s) => [s.msn, s.uri, s.parts.length])).toEqual([[10, 'a1-00010.m4s', 0], [11, 'a1-00011.m4s', 4], [12, null, 2]]);
    expect(p.segments[0]!.map).toBe('init-a1.mp4');
    expect(p.preloadHints).toEqual([{ type: 'PART', uri: 'a1-00012.2.m4s' }]);
    expect(p.renditionReports).toEqual([{ uri: '../360p/index.m3u8', lastMsn: 12, lastPart: 1 }]);
    expect(lastListedPart(p)).toEqual({ msn: 12, part: 1 });
  });
});

describe('LL-HLS validation', () => {
  it('passes a correct rendition against its sibling', () => {
    expect(validateLlPlaylist(P720, { url: URL_720, others })).toEqual([]);
    expect(validateLlPlaylist(P360, { url: URL_360, others })).toEqual([]);
  });

  it('fails a part longer than PART-TARGET', () => {
    const text = P720.replace('DURATION=0.50000,URI="a1-00011.1.m4s"', 'DURATION=0.60000,URI="a1-00011.1.m4s"').replace('DURATION=0.50000,URI="a1-00011.3.m4s"', 'DURATION=0.40000,URI="a1-00011.3.m4s"');
    expect(validateLlPlaylist(text, { url: URL_720, others })).toEqual([expect.stringContaining('part 1: DURATION 0.6 > PART-TARGET 0.5')]);
  });

  it('fails a segment with a part missing', () => {
    const text = P720.replace('#EXT-X-PART:DURATION=0.50000,URI="a1-00011.1.m4s"\n', '');
    const problems = validateLlPlaylist(text, { url: URL_720, others });
    expect(problems).toContainEqual(expect.stringContaining('segment 11: part 1 is named a1-00011.2.m4s'));
    expect(problems).toContainEqual(expect.stringContaining('segment 11: parts sum to 1.500 s, EXTINF 2'));
  });

  it('fails a first part without INDEPENDENT=YES', () => {
    const text = P720.replace('URI="a1-00012.0.m4s",INDEPENDENT=YES', 'URI="a1-00012.0.m4s"');
    expect(validateLlPlaylist(text, { url: URL_720, others })).toEqual(['segment 12: first part a1-00012.0.m4s lacks INDEPENDENT=YES']);
  });

  it('fails server control without blocking reload or with a short part hold-back', () => {
    const text = P720.replace('CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5', 'PART-HOLD-BACK=1.0');
    expect(validateLlPlaylist(text, { url: URL_720, others })).toEqual([
      'EXT-X-SERVER-CONTROL lacks CAN-BLOCK-RELOAD=YES',
      'PART-HOLD-BACK 1.0 < 3 × PART-TARGET 0.5',
    ]);
  });

  it('fails a missing, self-naming or stale rendition report', () => {
    expect(validateLlPlaylist(P720.replace(/#EXT-X-RENDITION-REPORT.*\n/, ''), { url: URL_720, others })).toEqual([`no EXT-X-RENDITION-REPORT for ${new URL(URL_360).pathname}`]);
    expect(validateLlPlaylist(playlist('720p'), { url: URL_720, others })).toContain('a rendition report names this playlist itself');
    const stale = P720.replace('LAST-MSN=12', 'LAST-MSN=9');
    expect(validateLlPlaylist(stale, { url: URL_720, others })).toEqual([expect.stringContaining('LAST-MSN 9, its playlist\'s last is 12')]);
  });

  it('fails renditions not aligned part for part', () => {
    const split = P360.replace('#EXT-X-PART:DURATION=0.50000,URI="a1-00011.3.m4s"\n', '#EXT-X-PART:DURATION=0.25000,URI="a1-00011.3.m4s"\n#EXT-X-PART:DURATION=0.25000,URI="a1-00011.4.m4s"\n');
    expect(validateLlPlaylist(P720, { url: URL_720, others: [{ url: URL_360, text: split }] })).toEqual([expect.stringContaining('segment 11: 4 parts here, 5 in')]);
  });

  it('fails a preload hint for a part already listed, and a playlist with none', () => {
    expect(validateLlPlaylist(P720.replace('URI="a1-00012.2.m4s"', 'URI="a1-00012.1.m4s"'), { url: URL_720, others })).toEqual(['preload hint a1-00012.1.m4s names a part already listed']);
    expect(validateLlPlaylist(P720.replace(/#EXT-X-PRELOAD-HINT.*\n/, ''), { url: URL_720, others })).toEqual(['0 EXT-X-PRELOAD-HINT of TYPE=PART (want 1)']);
  });

  it('checks that a segment\'s first part starts with a video keyframe', () => {
    const at = (name: string) => `${BASE}/720p/${name}`;
    const good = new Map([[at('init-a1.mp4'), INIT], [at('a1-00011.0.m4s'), fragment(SYNC)], [at('a1-00012.0.m4s'), fragment(SYNC)]]);
    expect(validateLlPlaylist(P720, { url: URL_720, others, bytes: good })).toEqual([]);
    const bad = new Map([...good, [at('a1-00012.0.m4s'), fragment(NON_SYNC)]]);
    expect(validateLlPlaylist(P720, { url: URL_720, others, bytes: bad })).toEqual(['segment 12 part 0 (a1-00012.0.m4s): does not start with a video keyframe']);
  });
});

describe('fMP4 first sample', () => {
  const tracks = readInitTracks(INIT);
  it('reads track handlers and trex defaults from the init segment', () => {
    expect([...tracks.handlers]).toEqual([[1, 'vide'], [2, 'soun']]);
    expect(tracks.defaultFlags.get(1)).toBe(NON_SYNC);
  });
  it('takes the trun first-sample flags, else the trex default, of the video track only', () => {
    expect(startsWithKeyframe(fragment(SYNC), tracks)).toBe(true);
    expect(startsWithKeyframe(fragment(NON_SYNC), tracks)).toBe(false);
    // no first-sample flags: the video trex default (non-sync) applies, though the audio traf before it is all sync
    expect(startsWithKeyframe(fragment(null), tracks)).toBe(false);
    expect(startsWithKeyframe(new Uint8Array(box('mdat', [0])), tracks)).toBe('no moof box');
  });
});
