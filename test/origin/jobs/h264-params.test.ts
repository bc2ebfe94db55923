// H.264 bitstream facts for the smart cut: NAL splitting, parameter sets, x264's options SEI, and the
// x264 settings that reproduce a source's SPS/PPS (the byte-level proof is in clip.test.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchX264Settings, nalType, parameterSets, sameParameterSets, splitAnnexB, spsLevel, startsWithIdr, x264Options } from '../../../origin/jobs/h264-params.ts';

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
// SPS/PPS x264 0.164 wrote for 854x480 ultrafast (Constrained Baseline 3.1) in our live pipeline.
const SPS = '6742c01fda0360f79bc044000003000400000300f03c60ca80';
const PPS = '68ce0fc8';
const ULTRAFAST = 'cabac=0 ref=1 deblock=0:0:0 analyse=0:0 me=dia subme=0 psy=1 psy_rd=1.00:0.00 mixed_ref=0 me_range=16 chroma_me=1 trellis=0 8x8dct=0 cqm=0 deadzone=21,11 fast_pskip=1 chroma_qp_offset=0 threads=3 lookahead_threads=1 sliced_threads=0 nr=0 decimate=1 interlaced=0 bluray_compat=0 constrained_intra=0 bframes=0 weightp=0 keyint=60 keyint_min=6 scenecut=0 intra_refresh=0 rc=crf mbtree=0 crf=23.0 qcomp=0.60 qpmin=0 qpmax=69 qpstep=4 ip_ratio=1.40 aq=0';
const MEDIUM = 'cabac=1 ref=3 deblock=1:0:0 analyse=0x3:0x113 me=hex subme=7 psy=1 psy_rd=1.00:0.00 mixed_ref=1 me_range=16 chroma_me=1 trellis=1 8x8dct=1 cqm=0 deadzone=21,11 fast_pskip=1 chroma_qp_offset=-2 threads=3 lookahead_threads=1 sliced_threads=0 nr=0 decimate=1 interlaced=0 bluray_compat=0 constrained_intra=0 bframes=3 b_pyramid=2 b_adapt=1 b_bias=0 direct=1 weightb=1 open_gop=0 weightp=2 keyint=60 keyint_min=6 scenecut=40 intra_refresh=0 rc_lookahead=40 rc=crf mbtree=1 crf=21.0 qcomp=0.60 qpmin=0 qpmax=69 qpstep=4 ip_ratio=1.40 aq=1:1.00';
const OBS_CBR = 'cabac=1 ref=1 deblock=1:0:0 analyse=0x3:0x113 me=hex subme=2 psy=1 psy_rd=1.00:0.00 mixed_ref=0 me_range=16 chroma_me=1 trellis=0 8x8dct=1 cqm=0 deadzone=21,11 fast_pskip=1 chroma_qp_offset=0 threads=3 lookahead_threads=1 sliced_threads=0 nr=0 decimate=1 interlaced=0 bluray_compat=0 constrained_intra=0 bframes=3 b_pyramid=2 b_adapt=1 b_bias=0 direct=1 weightb=1 open_gop=0 weightp=1 keyint=60 keyint_min=6 scenecut=40 intra_refresh=0 rc_lookahead=10 rc=cbr mbtree=1 bitrate=2500 ratetol=1.0 qcomp=0.60 qpmin=0 qpmax=69 qpstep=4 vbv_maxrate=2500 vbv_bufsize=5000 nal_hrd=none filler=0 ip_ratio=1.40 aq=1:1.00';

function x264Sei(options: string): Uint8Array {
  const text = Buffer.from(`x264 - core 164 r3095 baee400 - H.264/MPEG-4 AVC codec - Copyleft 2003-2022 - options: ${options}\0`, 'latin1');
  const uuid = Buffer.alloc(16, 0xdc);
  const size = uuid.length + text.length;
  const sizeBytes = [...Array(Math.floor(size / 255)).fill(255), size % 255];
  return Uint8Array.from([0x06, 0x05, ...sizeBytes, ...uuid, ...text, 0x80]);
}

function annexB(nals: Uint8Array[], longStartCodes = false): Uint8Array {
  const parts: number[] = [];
  for (const n of nals) parts.push(...(longStartCodes ? [0, 0, 0, 1] : [0, 0, 1]), ...n);
  return Uint8Array.from(parts);
}

describe('splitAnnexB', () => {
  it('splits on 3- and 4-byte start codes and drops trailing zeros', () => {
    const aud = hex('0910');
    const stream = Uint8Array.from([...annexB([aud], true), ...annexB([hex(SPS), hex(PPS)]), 0, 0, ...annexB([hex('6588840021')], true), 0, 0]);
    const nals = splitAnnexB(stream);
    expect(nals.map((n) => nalType(n))).toEqual([9, 7, 8, 5]);
    expect(Buffer.from(nals[1]!).toString('hex')).toBe(SPS);
    expect(Buffer.from(nals[3]!).toString('hex')).toBe('6588840021');
  });

  it('gives back every NAL unit of any stream of NAL units without zero bytes inside', () => {
    const nal = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Uint8Array.from(b, (x) => x || 1));
    fc.assert(
      fc.property(fc.array(nal, { minLength: 1, maxLength: 10 }), fc.boolean(), (nals, long) => {
        const out = splitAnnexB(annexB(nals, long));
        expect(out.map((n) => Buffer.from(n).toString('hex'))).toEqual(nals.map((n) => Buffer.from(n).toString('hex')));
      }),
    );
  });
});

describe('parameter sets', () => {
  const au = splitAnnexB(annexB([hex('0910'), hex(SPS), hex(PPS), x264Sei(ULTRAFAST), hex('6588840021')]));

  it('reads SPS, PPS, level and whether the access unit is an IDR', () => {
    const sets = parameterSets(au);
    expect(sets).toEqual({ sps: [SPS], pps: [PPS] });
    expect(spsLevel(sets)).toBe(31);
    expect(startsWithIdr(au)).toBe(true);
    expect(startsWithIdr(splitAnnexB(annexB([hex('0910'), hex('41e0')])))).toBe(false);
  });

  it('compares parameter sets byte for byte', () => {
    const a = parameterSets(au);
    expect(sameParameterSets(a, { sps: [SPS], pps: [PPS] })).toBe(true);
    expect(sameParameterSets(a, { sps: [SPS], pps: ['68ce0fc9'] })).toBe(false);
    expect(sameParameterSets({ sps: [], pps: [] }, { sps: [], pps: [] })).toBe(false);
  });

  it("reads x264's options from its SEI, and nothing from another encoder's stream", () => {
    expect(x264Options(au)).toMatchObject({ cabac: '0', ref: '1', rc: 'crf', crf: '23.0', psy_rd: '1.00:0.00', bframes: '0' });
    expect(x264Options(splitAnnexB(annexB([hex(SPS), hex(PPS), hex('0605100000')])))).toBeUndefined();
  });
});

describe('matchX264Settings', () => {
  const parse = (s: string): Record<string, string> => Object.fromEntries(s.split(' ').map((t) => t.split('=') as [string, string]));
  const params = (s: string): Record<string, string> => {
    const m = matchX264Settings(parse(s), 31);
    if (!m.ok) throw new Error(m.reason);
    return Object.fromEntries(m.x264Params.split(':').map((t) => t.split('=') as [string, string]));
  };

  it('copies what shapes the SPS/PPS of an ultrafast CRF source', () => {
    expect(params(ULTRAFAST)).toMatchObject({ cabac: '0', ref: '1', '8x8dct': '0', bframes: '0', weightp: '0', cqm: 'flat', crf: '23', level: '31', 'chroma-qp-offset': '0', 'psy-rd': '1.00,0.00' });
  });

  it('asks for the chroma QP offset before x264 lowers it for psy-RD (subme 7)', () => {
    expect(params(MEDIUM)).toMatchObject({ 'chroma-qp-offset': '0', 'b-pyramid': '2', weightp: '2', subme: '7', trellis: '1', crf: '21' });
  });

  it('pins pic_init_qp like ABR/CBR does for a bitrate-driven source (OBS)', () => {
    expect(params(OBS_CBR)).toMatchObject({ stitchable: '1', crf: '18', bframes: '3', weightb: '1' });
    expect(params(OBS_CBR)).not.toHaveProperty('nal-hrd');
  });

  it.each([
    ['interlaced=tff', /interlaced/],
    ['open_gop=1', /open-GOP/],
    ['intra_refresh=1', /intra-refresh/],
    ['cqm=2', /quantisation/],
    ['rc=2pass', /rate control/],
  ])('refuses a source with %s', (option, reason) => {
    const m = matchX264Settings({ ...parse(ULTRAFAST), ...parse(option) }, 31);
    expect(m.ok).toBe(false);
    if (!m.ok) expect(m.reason).toMatch(reason);
  });
});
