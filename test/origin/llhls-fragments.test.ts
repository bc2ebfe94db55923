// The LL-HLS packager's byte layer: ffmpeg's real fragmented MP4 (made once here) read in any chunking, hand-built boxes
// for what ffmpeg does not write (tfhd/trex defaults, 64-bit sizes) and for malformed streams, and the part segmenter.
import { spawn } from 'node:child_process';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { Fmp4FragmentReader, Mp4BoxError, sampleIsIndependent, type Fmp4Fragment, type Fmp4Unit } from '../../origin/llhls/fmp4-fragments.ts';
import { PartSegmenter, type SegmenterOutput } from '../../origin/llhls/part-segmenter.ts';

let stream: Uint8Array;

/** 3 s of 320x240 at 30 fps with a keyframe every second, and AAC audio, as the low-mode transcode writes it. */
function ffmpegFragmentedMp4(): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const args = [
      '-hide_banner', '-loglevel', 'error', '-nostdin',
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
      '-t', '3', '-map', '0:v', '-map', '1:a',
      '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-bf', '0',
      '-c:a', 'aac', '-b:a', '64k',
      '-f', 'mp4', '-movflags', '+empty_moov+default_base_moof+frag_keyframe', '-frag_duration', '200000', 'pipe:1',
    ];
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()).slice(-2000));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(deadline);
      if (code === 0) resolve(new Uint8Array(Buffer.concat(out)));
      else reject(new Error(`ffmpeg exited ${code}: ${err}`));
    });
  });
}

beforeAll(async () => {
  stream = await ffmpegFragmentedMp4();
});

function readAll(bytes: Uint8Array, cuts: number[] = []): Fmp4Unit[] {
  const reader = new Fmp4FragmentReader();
  const units: Fmp4Unit[] = [];
  let at = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    units.push(...reader.push(bytes.subarray(at, cut)));
    at = cut;
  }
  return units;
}

const fragmentsOf = (units: Fmp4Unit[]) => units.filter((u): u is Fmp4Fragment => u.kind === 'fragment');

describe('Fmp4FragmentReader on ffmpeg output', () => {
  it('yields the init segment with its codecs and video timescale, then every fragment with its timing', () => {
    const units = readAll(stream);
    const init = units[0]!;
    expect(init.kind).toBe('init');
    if (init.kind !== 'init') return;
    // x264's ultrafast preset makes constrained baseline (42c0..), level from the picture size.
    expect(init.codecs).toMatch(/^avc1\.42c0[0-9a-f]{2},mp4a\.40\.2$/);
    expect(init.timescale).toBeGreaterThan(0);
    expect(String.fromCharCode(...init.bytes.subarray(4, 8))).toBe('ftyp');

    const fragments = fragmentsOf(units);
    expect(units.filter((u) => u.kind === 'init')).toHaveLength(1);
    expect(fragments.length).toBeGreaterThanOrEqual(13);
    // Every byte of the stream lands in exactly one unit, but the closing random-access index (mfra) no part needs.
    const covered = units.reduce((n, u) => n + u.bytes.length, 0);
    expect(String.fromCharCode(...stream.subarray(covered + 4, covered + 8))).toBe('mfra');
    expect(new DataView(stream.buffer, stream.byteOffset).getUint32(covered)).toBe(stream.length - covered);
    for (const f of fragments) expect(String.fromCharCode(...f.bytes.subarray(4, 8))).toBe('moof');
    // Contiguous video timing, about 0.2 s a fragment, 3 s in all.
    expect(fragments[0]!.decodeTime).toBe(0);
    for (let i = 1; i < fragments.length; i++) expect(fragments[i]!.decodeTime).toBeCloseTo(fragments[i - 1]!.decodeTime + fragments[i - 1]!.duration, 6);
    // (The first video sample lasts longer by the AAC encoder's priming delay, about 1024 samples at 48 kHz.)
    for (const f of fragments.slice(0, -1)) {
      expect(f.duration).toBeGreaterThanOrEqual(0.2 - 1e-9);
      expect(f.duration).toBeLessThanOrEqual(0.2 + 0.025);
    }
    const total = fragments.reduce((n, f) => n + f.duration, 0);
    expect(total).toBeCloseTo(3, 1);
    // Keyframes each second: every fifth fragment is independent, the others not.
    expect(fragments.map((f, i) => [i, f.independent]).filter(([, k]) => k).map(([i]) => i)).toEqual([0, 5, 10]);
    expect(fragments[10]!.decodeTime - fragments[5]!.decodeTime).toBeCloseTo(1, 6);
  });

  it('gives the same units whatever the chunking of the stream', () => {
    const whole = readAll(stream);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length - 1 }), { maxLength: 40 }), (cuts) => {
        const units = readAll(stream, cuts);
        expect(units.length).toBe(whole.length);
        units.forEach((u, i) => {
          const w = whole[i]!;
          expect(u.kind).toBe(w.kind);
          expect(Buffer.from(u.bytes).equals(Buffer.from(w.bytes))).toBe(true);
          if (u.kind === 'fragment' && w.kind === 'fragment') expect([u.decodeTime, u.duration, u.independent]).toEqual([w.decodeTime, w.duration, w.independent]);
        });
      }),
      { numRuns: 60 },
    );
  });

  it('reads byte by byte too, holding no more than one box', () => {
    const reader = new Fmp4FragmentReader();
    let units = 0;
    let maxPending = 0;
    for (let i = 0; i < stream.length; i++) {
      units += reader.push(stream.subarray(i, i + 1)).length;
      maxPending = Math.max(maxPending, reader.pendingBytes);
    }
    expect(units).toBe(readAll(stream).length);
    expect(reader.pendingBytes).toBe(0);
    expect(maxPending).toBeLessThan(64 * 1024);
  });

  it('cuts parts and segments from the fragments: 2 s segments at keyframes, parts adding up', () => {
    const seg = new PartSegmenter({ segmentSeconds: 2, firstMsn: 7 });
    const out: SegmenterOutput[] = [];
    for (const f of fragmentsOf(readAll(stream))) out.push(...seg.push(f));
    out.push(...seg.flush());
    const segments = out.filter((o) => o.type === 'segment');
    expect(segments.map((s) => s.msn)).toEqual([7, 8]);
    const fragments = fragmentsOf(readAll(stream));
    expect(segments[0]!.duration).toBeCloseTo(fragments[10]!.decodeTime, 6);
    expect(segments[0]!.parts).toBe(10);
    expect(segments[1]!.duration).toBeCloseTo(1, 1);
    checkSegmenterOutput(out);
  });
});

/** The invariants of any segmenter output: numbering, durations adding up, bytes concatenated, keyframe starts. */
function checkSegmenterOutput(out: SegmenterOutput[], forced: (msn: number) => boolean = () => false): void {
  let parts: Extract<SegmenterOutput, { type: 'part' }>[] = [];
  for (const o of out) {
    if (o.type === 'part') {
      expect(o.part).toBe(parts.length);
      if (parts.length > 0) expect(o.msn).toBe(parts[0]!.msn);
      if (o.part === 0 && !forced(o.msn)) expect(o.independent).toBe(true);
      parts.push(o);
    } else {
      expect(parts.length).toBe(o.parts);
      expect(parts[0]!.msn).toBe(o.msn);
      expect(o.duration).toBe(parts.reduce((n, p) => n + p.duration, 0));
      expect(Buffer.from(o.bytes).equals(Buffer.concat(parts.map((p) => p.bytes)))).toBe(true);
      parts = [];
    }
  }
  expect(parts).toEqual([]);
}

describe('PartSegmenter', () => {
  const fragmentArb = fc.record({
    duration: fc.double({ min: 0.01, max: 0.5, noNaN: true }),
    independent: fc.boolean(),
    size: fc.integer({ min: 1, max: 50 }),
  });

  it('parts add up to segments, segments begin at independent parts, and close once due', () => {
    fc.assert(
      fc.property(fc.array(fragmentArb, { maxLength: 80 }), fc.double({ min: 0.5, max: 4, noNaN: true }), (frags, segmentSeconds) => {
        const seg = new PartSegmenter({ segmentSeconds, firstMsn: 0, maxSegmentSeconds: 1000 });
        const out: SegmenterOutput[] = [];
        let i = 0;
        for (const f of frags) out.push(...seg.push({ duration: f.duration, independent: f.independent, bytes: new Uint8Array(f.size).fill(i++ % 251) }));
        out.push(...seg.flush());
        checkSegmenterOutput(out);
        // A closed segment (not the flushed last one) had reached its duration, and was closed at the first chance.
        const segments = out.filter((o) => o.type === 'segment');
        for (const s of segments.slice(0, -1)) expect(s.duration).toBeGreaterThanOrEqual(segmentSeconds - 0.01);
        // Fragments before the first independent one are dropped; none after it is.
        const first = frags.findIndex((f) => f.independent);
        expect(out.filter((o) => o.type === 'part')).toHaveLength(first < 0 ? 0 : frags.length - first);
      }),
    );
  });

  it('closes an overlong segment at a non-independent part rather than grow without bound', () => {
    const seg = new PartSegmenter({ segmentSeconds: 2, firstMsn: 0, maxSegmentSeconds: 6 });
    const out: SegmenterOutput[] = [];
    out.push(...seg.push({ duration: 0.5, independent: true, bytes: new Uint8Array(1) }));
    for (let i = 0; i < 20; i++) out.push(...seg.push({ duration: 0.5, independent: false, bytes: new Uint8Array(1) }));
    const segments = out.filter((o) => o.type === 'segment');
    expect(segments.map((s) => s.duration)).toEqual([6]);
    checkSegmenterOutput([...out, ...seg.flush()], (msn) => msn > 0);
  });

  it('refuses nonsense options', () => {
    expect(() => new PartSegmenter({ segmentSeconds: 0, firstMsn: 0 })).toThrow(/segmentSeconds/);
    expect(() => new PartSegmenter({ segmentSeconds: 2, firstMsn: -1 })).toThrow(/firstMsn/);
  });
});

// Hand-built boxes: what ffmpeg does not write, and what no encoder should.
const u32 = (n: number) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const u16 = (n: number) => [(n >>> 8) & 255, n & 255];
const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));
function box(type: string, ...body: (number[] | Uint8Array)[]): Uint8Array {
  const payload = body.flatMap((b) => [...b]);
  return new Uint8Array([...u32(8 + payload.length), ...ascii(type), ...payload]);
}
const full = (version: number, flags: number) => [version, (flags >>> 16) & 255, (flags >>> 8) & 255, flags & 255];

function trak(id: number, handler: string, timescale: number, entry: Uint8Array): Uint8Array {
  return box('trak',
    box('tkhd', full(0, 3), u32(0), u32(0), u32(id), new Array(80 - 12).fill(0)),
    box('mdia',
      box('mdhd', full(0, 0), u32(0), u32(0), u32(timescale), u32(0), u16(0x55c4), u16(0)),
      box('hdlr', full(0, 0), u32(0), ascii(handler), new Array(12).fill(0), [0]),
      box('minf', box('stbl', box('stsd', full(0, 0), u32(1), entry)))));
}
const avc1 = box('avc1', new Array(78).fill(0), box('avcC', [1, 0x4d, 0x40, 0x1e, 0xff, 0xe0, 0]));
const mp4a = box('mp4a', new Array(28).fill(0),
  box('esds', full(0, 0), [0x03, 0x80, 0x80, 0x80, 22, 0, 1, 0], [0x04, 17, 0x40, 0x15, 0, 0, 0, ...u32(0), ...u32(0)], [0x05, 2, 0x12, 0x10]));
// trex defaults: video samples last 3000 ticks and are non-sync unless said otherwise.
const NON_SYNC = 0x01010000;
const SYNC = 0x02000000;
function init(): Uint8Array {
  return concat(
    box('ftyp', ascii('iso6'), u32(0), ascii('iso6')),
    box('moov',
      box('mvhd', full(0, 0), new Array(96).fill(0)),
      trak(1, 'vide', 90000, avc1),
      trak(2, 'soun', 48000, mp4a),
      box('mvex', box('trex', full(0, 0), u32(1), u32(1), u32(3000), u32(0), u32(NON_SYNC)), box('trex', full(0, 0), u32(2), u32(1), u32(1024), u32(0), u32(SYNC)))),
  );
}
/** A fragment of `count` video samples timed by defaults, its first sample's flags given in the trun. */
function fragment(decodeTime: number, count: number, firstFlags: number | undefined, tfhdDuration?: number): Uint8Array {
  const tfhd = tfhdDuration === undefined ? box('tfhd', full(0, 0x020000), u32(1)) : box('tfhd', full(0, 0x020008), u32(1), u32(tfhdDuration));
  const trunFlags = 0x200 | (firstFlags === undefined ? 0 : 0x04);
  const trun = box('trun', full(0, trunFlags), u32(count), firstFlags === undefined ? [] : u32(firstFlags), ...Array.from({ length: count }, () => u32(100)));
  return concat(box('moof', box('mfhd', full(0, 0), u32(1)), box('traf', tfhd, box('tfdt', full(1, 0), u32(0), u32(decodeTime)), trun)), box('mdat', new Uint8Array(count * 100)));
}
function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

describe('Fmp4FragmentReader on hand-built boxes', () => {
  it('falls back on tfhd and trex defaults, and reads first-sample flags and 64-bit decode times', () => {
    const units = readAll(concat(init(), fragment(90000, 30, SYNC), fragment(180000, 30, undefined), fragment(270000, 10, SYNC, 9000)));
    expect(units[0]).toMatchObject({ kind: 'init', codecs: 'avc1.4d401e,mp4a.40.2', timescale: 90000 });
    expect(fragmentsOf(units).map((f) => [f.decodeTime, f.duration, f.independent])).toEqual([
      [1, 1, true],
      [2, 1, false],
      [3, 1, true],
    ]);
  });

  it('reads a 64-bit box size', () => {
    const mdat = new Uint8Array([...u32(1), ...ascii('mdat'), ...u32(0), ...u32(16 + 4), 1, 2, 3, 4]);
    const moofOnly = fragment(0, 1, SYNC);
    const moofLength = new DataView(moofOnly.buffer).getUint32(0);
    const units = readAll(concat(init(), moofOnly.subarray(0, moofLength), mdat));
    expect(fragmentsOf(units)).toHaveLength(1);
    expect(fragmentsOf(units)[0]!.bytes.length).toBe(moofLength + 20);
  });

  it('knows independent sample flags', () => {
    expect(sampleIsIndependent(SYNC)).toBe(true);
    expect(sampleIsIndependent(0)).toBe(true);
    expect(sampleIsIndependent(NON_SYNC)).toBe(false);
    expect(sampleIsIndependent(0x01000000)).toBe(false); // sync bit clear but depends on others
  });

  const malformed: [string, () => Uint8Array, RegExp][] = [
    ['a box over 16 MiB', () => concat(init(), new Uint8Array([...u32(16 * 1024 * 1024 + 9), ...ascii('mdat')])), /over the 16777216-byte limit/],
    ['a box running to the end of the file', () => concat(init(), new Uint8Array([...u32(0), ...ascii('mdat')])), /end of the file/],
    ['a size smaller than the header', () => new Uint8Array([...u32(7), ...ascii('ftyp')]), /smaller than its header/],
    ['mdat before the init segment', () => box('mdat', [1, 2, 3]), /before the init segment/],
    ['moof before the init segment', () => fragment(0, 1, SYNC), /before the init segment/],
    ['moov before ftyp', () => box('moov', box('mvhd', full(0, 0), new Array(96).fill(0))), /moov before ftyp/],
    ['two moofs in a row', () => { const f = fragment(0, 1, SYNC); const n = new DataView(f.buffer).getUint32(0); return concat(init(), f.subarray(0, n), f.subarray(0, n)); }, /moof without its mdat/],
    ['a trun claiming more samples than its bytes', () => { const f = fragment(0, 2, SYNC); const i = Buffer.from(f).indexOf('trun'); new DataView(f.buffer).setUint32(i + 8, 0x7fffffff); return concat(init(), f); }, /more than its bytes hold/],
    ['a traf of an undeclared track', () => { const f = fragment(0, 1, SYNC); const i = Buffer.from(f).indexOf('tfhd'); new DataView(f.buffer).setUint32(i + 8, 9); return concat(init(), f); }, /track 9/],
    ['a child box cut short', () => concat(box('ftyp', ascii('iso6')), box('moov', new Uint8Array([...u32(100), ...ascii('trak')]))), /cut short/],
    ['a moov without tracks', () => concat(box('ftyp', ascii('iso6')), box('moov', box('mvhd', full(0, 0), new Array(96).fill(0)))), /no track/],
  ];
  for (const [name, bytes, error] of malformed) {
    it(`refuses ${name}`, () => {
      let thrown: unknown;
      try {
        readAll(bytes());
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(Mp4BoxError);
      expect((thrown as Error).message).toMatch(error);
    });
  }

  it('never throws anything but Mp4BoxError on corrupted bytes, and never holds more than a box', () => {
    const good = concat(init(), fragment(0, 3, SYNC), fragment(270000, 3, undefined));
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const bytes = good.slice();
        for (const [at, value] of edits) bytes[at] = value;
        const reader = new Fmp4FragmentReader();
        try {
          reader.push(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(Mp4BoxError);
        }
        expect(reader.pendingBytes).toBeLessThanOrEqual(good.length);
      }),
      { numRuns: 300 },
    );
  });
});
