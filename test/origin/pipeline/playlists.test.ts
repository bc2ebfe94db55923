// Playlist text helpers: media playlist parsing, ENDLIST, master build/parse/validate, TS codec probing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  appendEndList,
  avc1Codec,
  buildMasterPlaylist,
  expectedAvc1,
  parseMasterPlaylist,
  parseMediaPlaylist,
  PlaylistError,
  probeTsCodecs,
  validateMasterPlaylist,
} from '../../../origin/pipeline/playlists.ts';
import type { Variant } from '../../../origin/pipeline/playlists.ts';

// What ffmpeg 5.1 wrote after a first run and a resumed one (append_list), before the session ended.
const RESUMED = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:2.000000,
seg_00000.ts
#EXTINF:2.000000,
seg_00001.ts
#EXTINF:1.980000,
seg_00002.ts
#EXT-X-DISCONTINUITY
#EXTINF:2.000000,
seg_00003.ts
#EXTINF:0.033333,
seg_00004.ts
`;

// ffmpeg's own master for a copied source: no CODECS and a BANDWIDTH of the audio alone.
const FFMPEG_MASTER = `#EXTM3U
#EXT-X-VERSION:6
#EXT-X-STREAM-INF:BANDWIDTH=75900,RESOLUTION=1280x720
source/index.m3u8

#EXT-X-STREAM-INF:BANDWIDTH=985600,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2"
360p/index.m3u8
`;

describe('parseMediaPlaylist', () => {
  it('reads segments, sequence numbers and the discontinuity of a resumed session', () => {
    const pl = parseMediaPlaylist(RESUMED);
    expect(pl).toMatchObject({ version: 6, targetDuration: 2, mediaSequence: 0, playlistType: 'EVENT', independentSegments: true, endList: false });
    expect(pl.segments.map((s) => [s.uri, s.sequence, s.duration, s.discontinuity])).toEqual([
      ['seg_00000.ts', 0, 2, false],
      ['seg_00001.ts', 1, 2, false],
      ['seg_00002.ts', 2, 1.98, false],
      ['seg_00003.ts', 3, 2, true],
      ['seg_00004.ts', 4, 0.033333, false],
    ]);
  });

  it('numbers segments from EXT-X-MEDIA-SEQUENCE and reads ENDLIST', () => {
    const pl = parseMediaPlaylist('#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n');
    expect(pl.segments[0]?.sequence).toBe(7);
    expect(pl.discontinuitySequence).toBe(2);
    expect(pl.endList).toBe(true);
  });

  it.each([
    ['', 'first line'],
    ['#EXT-X-VERSION:3\n', 'first line'],
    ['#EXTM3U\nseg.ts\n', 'without EXTINF'],
    ['#EXTM3U\n#EXTINF:abc,\nseg.ts\n', 'bad EXTINF'],
    ['#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n', 'bad integer'],
  ])('rejects %j', (text, message) => {
    expect(() => parseMediaPlaylist(text)).toThrow(PlaylistError);
    expect(() => parseMediaPlaylist(text)).toThrow(message);
  });

  it('accepts CRLF line ends', () => {
    expect(parseMediaPlaylist(RESUMED.replaceAll('\n', '\r\n')).segments).toHaveLength(5);
  });
});

describe('appendEndList', () => {
  it.each([
    [RESUMED, `${RESUMED}#EXT-X-ENDLIST\n`],
    ['#EXTM3U\n#EXTINF:2,\na.ts', '#EXTM3U\n#EXTINF:2,\na.ts\n#EXT-X-ENDLIST\n'],
    ['#EXTM3U\n#EXT-X-ENDLIST\n', '#EXTM3U\n#EXT-X-ENDLIST\n'],
  ])('%#', (input, expected) => {
    expect(appendEndList(input)).toBe(expected);
  });

  it('is idempotent and keeps every segment', () => {
    const segment = fc.record({ d: fc.double({ min: 0.01, max: 10, noNaN: true }), disc: fc.boolean() });
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 30 }), fc.nat(1000), (segs, seq) => {
        const text = `#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:${seq}\n${segs.map((s, i) => `${s.disc ? '#EXT-X-DISCONTINUITY\n' : ''}#EXTINF:${s.d.toFixed(6)},\nseg_${i}.ts\n`).join('')}`;
        const once = appendEndList(text);
        expect(appendEndList(once)).toBe(once);
        const before = parseMediaPlaylist(text);
        const after = parseMediaPlaylist(once);
        expect(after.endList).toBe(true);
        expect(after.segments).toEqual(before.segments);
      }),
    );
  });
});

describe('master playlist', () => {
  const variants: Variant[] = [
    { uri: 'source/index.m3u8', bandwidth: 3_440_800, width: 1280, height: 720, frameRate: 30, codecs: ['avc1.64001f', 'mp4a.40.2'] },
    { uri: '480p/index.m3u8', bandwidth: 1_680_800, width: 854, height: 480, frameRate: 30000 / 1001, codecs: ['avc1.4d401f', 'mp4a.40.2'] },
  ];

  it('writes BANDWIDTH, RESOLUTION, FRAME-RATE and CODECS per variant', () => {
    expect(buildMasterPlaylist(variants)).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:6',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-STREAM-INF:BANDWIDTH=3440800,RESOLUTION=1280x720,FRAME-RATE=30.000,CODECS="avc1.64001f,mp4a.40.2"',
        'source/index.m3u8',
        '#EXT-X-STREAM-INF:BANDWIDTH=1680800,RESOLUTION=854x480,FRAME-RATE=29.970,CODECS="avc1.4d401f,mp4a.40.2"',
        '480p/index.m3u8',
        '',
      ].join('\n'),
    );
    expect(validateMasterPlaylist(buildMasterPlaylist(variants))).toEqual([]);
  });

  it("finds what is missing from ffmpeg's own master", () => {
    expect(validateMasterPlaylist(FFMPEG_MASTER)).toEqual(['source/index.m3u8: CODECS has no avc1 video codec']);
  });

  it.each([
    ['#EXTM3U\n', 'no variant streams'],
    ['#EXTM3U\n#EXT-X-STREAM-INF:RESOLUTION=1x1,CODECS="avc1.640028"\na.m3u8\n', 'BANDWIDTH'],
    ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS="avc1.640028"\na.m3u8\n', 'RESOLUTION'],
    ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x1,CODECS="avc1.640028,opus"\na.m3u8\n', 'unknown codec opus'],
    ['#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1x1,CODECS="avc1.640028"\n../a.m3u8\n', 'not a relative path'],
    ['nope', 'first line'],
  ])('flags %j', (text, problem) => {
    expect(validateMasterPlaylist(text).join('\n')).toContain(problem);
  });

  it('refuses unsafe URIs and empty ladders when building', () => {
    expect(() => buildMasterPlaylist([])).toThrow(PlaylistError);
    expect(() => buildMasterPlaylist([{ ...variants[0]!, uri: '/etc/passwd' }])).toThrow(PlaylistError);
    expect(() => buildMasterPlaylist([{ ...variants[0]!, uri: 'a"b' }])).toThrow(PlaylistError);
  });

  it('parses back what it builds', () => {
    const variant = fc.record({
      uri: fc.stringMatching(/^[a-z0-9_-]{1,12}\/index\.m3u8$/),
      bandwidth: fc.integer({ min: 1, max: 50_000_000 }),
      width: fc.integer({ min: 2, max: 4096 }),
      height: fc.integer({ min: 2, max: 4096 }),
      codecs: fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 10, max: 52 })).map(([p, c, l]) => [avc1Codec(p, c, l), 'mp4a.40.2']),
    });
    fc.assert(
      fc.property(fc.uniqueArray(variant, { minLength: 1, maxLength: 6, selector: (v) => v.uri }), (vs) => {
        const text = buildMasterPlaylist(vs);
        expect(parseMasterPlaylist(text)).toEqual(vs);
        expect(validateMasterPlaylist(text)).toEqual([]);
      }),
    );
  });
});

describe('codec strings', () => {
  it.each([
    [{ profile: 'H264Baseline', level: 30 }, 'avc1.42c01e'],
    [{ profile: 'H264Main', level: 31 }, 'avc1.4d401f'],
    [{ profile: 'H264High', level: 40 }, 'avc1.640028'],
    [{ profile: 'H264ConstrainedHigh', level: 31 }, 'avc1.64001f'],
  ] as const)('%j → %s (what libx264 writes)', (r, codec) => {
    expect(expectedAvc1(r)).toBe(codec);
  });
});

/** A minimal MPEG-TS: PAT, PMT (H.264 on 0x100, AAC on 0x101), one video PES and one audio PES. */
function syntheticTs(opts: { splitSps?: boolean } = {}): Uint8Array {
  const packets: Uint8Array[] = [];
  const packet = (pid: number, pusi: boolean, payload: number[]): void => {
    const p = new Uint8Array(188).fill(0xff);
    p[0] = 0x47;
    p[1] = (pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f);
    p[2] = pid & 0xff;
    if (payload.length < 184) {
      // adaptation field of stuffing so the payload ends exactly at the packet end
      const af = 184 - payload.length - 1;
      p[3] = 0x30;
      p[4] = af;
      if (af > 0) p[5] = 0x00;
      p.set(payload, 5 + af);
    } else {
      p[3] = 0x10;
      p.set(payload.slice(0, 184), 4);
    }
    packets.push(p);
  };
  const crc = [0, 0, 0, 0];
  packet(0, true, [0, 0x00, 0xb0, 13, 0, 1, 0xc1, 0, 0, 0, 1, 0xf0, 0x00, ...crc]);
  packet(0x1000, true, [0, 0x02, 0xb0, 23, 0, 1, 0xc1, 0, 0, 0xe1, 0x00, 0xf0, 0x00, 0x1b, 0xe1, 0x00, 0xf0, 0x00, 0x0f, 0xe1, 0x01, 0xf0, 0x00, ...crc]);
  const pesHeader = [0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1];
  const aud = [0, 0, 0, 1, 0x09, 0xf0];
  const sps = [0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9];
  const video = [...pesHeader, ...aud, ...sps, ...new Array(20).fill(0x11)];
  if (opts.splitSps) {
    // First packet ends in the middle of the SPS start code.
    const cut = pesHeader.length + aud.length + 2;
    packet(0x100, true, video.slice(0, cut));
    packet(0x100, false, video.slice(cut));
  } else {
    packet(0x100, true, video);
  }
  packet(0x101, true, [0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1, 0xff, 0xf1, 0x50, 0x80, 0x02, 0x1f, 0xfc]);
  packet(0x100, true, [...pesHeader, 0, 0, 1, 0x65]);
  packet(0x101, true, [0, 0, 1, 0xc0, 0, 0, 0x80, 0x80, 0]);
  const out = new Uint8Array(packets.length * 188);
  packets.forEach((p, i) => out.set(p, i * 188));
  return out;
}

describe('probeTsCodecs', () => {
  it('reads avc1 from the SPS and mp4a from the ADTS header', () => {
    expect(probeTsCodecs(syntheticTs())).toEqual({ video: 'avc1.64001f', audio: 'mp4a.40.2' });
  });

  it('finds an SPS whose start code is split across TS packets', () => {
    expect(probeTsCodecs(syntheticTs({ splitSps: true }))).toEqual({ video: 'avc1.64001f', audio: 'mp4a.40.2' });
  });

  it('returns nothing for bytes that are not MPEG-TS', () => {
    expect(probeTsCodecs(new Uint8Array(1000).fill(7))).toEqual({});
    expect(probeTsCodecs(new Uint8Array(0))).toEqual({});
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(200), (bytes, syncAt) => {
        const b = new Uint8Array(bytes);
        for (let i = syncAt; i < b.length; i += 188) b[i] = 0x47;
        expect(() => probeTsCodecs(b)).not.toThrow();
      }),
    );
  });
});
