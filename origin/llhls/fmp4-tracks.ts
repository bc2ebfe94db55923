// What an fMP4 init segment (moov) says about its tracks: id, kind, timescale, the trex defaults fragments fall back
// on, and each track's RFC 6381 codec string (avc1/avc3 from avcC, hvc1/hev1 from hvcC, mp4a from esds) for CODECS.
import { child, childBoxes, FieldReader, Mp4BoxError } from './mp4-boxes.ts';

export interface TrackInfo {
  id: number;
  kind: 'video' | 'audio' | 'other';
  timescale: number;
  /** RFC 6381, e.g. avc1.64001f or mp4a.40.2; the sample entry's type when its configuration is not understood */
  codec: string;
  defaultSampleDuration: number;
  defaultSampleFlags: number;
}

/** The tracks of a moov box's payload, in the order they appear. */
export function readTracks(moov: Uint8Array): TrackInfo[] {
  const boxes = childBoxes(moov);
  const trex = new Map<number, { duration: number; flags: number }>();
  const mvex = boxes.find((b) => b.type === 'mvex');
  for (const box of mvex ? childBoxes(mvex.body) : []) {
    if (box.type !== 'trex') continue;
    const r = new FieldReader(box.body, 'trex');
    r.fullBox();
    const id = r.u32();
    r.skip(4); // default_sample_description_index
    const duration = r.u32();
    r.skip(4); // default_sample_size
    trex.set(id, { duration, flags: r.u32() });
  }
  const tracks: TrackInfo[] = [];
  for (const trak of boxes.filter((b) => b.type === 'trak')) {
    const id = trackId(need(child(trak.body, 'tkhd'), 'tkhd').body);
    const mdia = need(child(trak.body, 'mdia'), 'mdia').body;
    const timescale = mediaTimescale(need(child(mdia, 'mdhd'), 'mdhd').body);
    const handler = handlerType(need(child(mdia, 'hdlr'), 'hdlr').body);
    const stbl = need(child(need(child(mdia, 'minf'), 'minf').body, 'stbl'), 'stbl').body;
    const kind = handler === 'vide' ? 'video' : handler === 'soun' ? 'audio' : 'other';
    const defaults = trex.get(id);
    tracks.push({
      id,
      kind,
      timescale,
      codec: sampleEntryCodec(need(child(stbl, 'stsd'), 'stsd').body, kind),
      defaultSampleDuration: defaults?.duration ?? 0,
      defaultSampleFlags: defaults?.flags ?? 0,
    });
  }
  if (tracks.length === 0) throw new Mp4BoxError('moov has no track');
  return tracks;
}

function need<T>(box: T | undefined, type: string): T {
  if (!box) throw new Mp4BoxError(`moov lacks a ${type} box`);
  return box;
}

function trackId(tkhd: Uint8Array): number {
  const r = new FieldReader(tkhd, 'tkhd');
  const { version } = r.fullBox();
  r.skip(version === 1 ? 16 : 8);
  return r.u32();
}

function mediaTimescale(mdhd: Uint8Array): number {
  const r = new FieldReader(mdhd, 'mdhd');
  const { version } = r.fullBox();
  r.skip(version === 1 ? 16 : 8);
  const timescale = r.u32();
  if (timescale === 0) throw new Mp4BoxError('mdhd has a timescale of 0');
  return timescale;
}

function handlerType(hdlr: Uint8Array): string {
  const r = new FieldReader(hdlr, 'hdlr');
  r.fullBox();
  r.skip(4);
  return String.fromCharCode(...r.bytesOf(4));
}

// Sample entry fields before the child boxes (ISO 14496-12 VisualSampleEntry / AudioSampleEntry).
const VISUAL_ENTRY_FIELDS = 78;
const AUDIO_ENTRY_FIELDS = 28;

function sampleEntryCodec(stsd: Uint8Array, kind: TrackInfo['kind']): string {
  const r = new FieldReader(stsd, 'stsd');
  r.fullBox();
  if (r.u32() < 1) throw new Mp4BoxError('stsd has no sample entry');
  const entry = childBoxes(stsd.subarray(r.offset))[0];
  if (!entry) throw new Mp4BoxError('stsd has no sample entry');
  const fields = kind === 'video' ? VISUAL_ENTRY_FIELDS : kind === 'audio' ? AUDIO_ENTRY_FIELDS : -1;
  if (fields < 0 || entry.body.length < fields) return entry.type;
  const config = childBoxes(entry.body.subarray(fields));
  const find = (type: string) => config.find((b) => b.type === type)?.body;
  if (entry.type === 'avc1' || entry.type === 'avc3') {
    const avcC = find('avcC');
    if (!avcC || avcC.length < 4) return entry.type;
    return `${entry.type}.${hex2(avcC[1]!)}${hex2(avcC[2]!)}${hex2(avcC[3]!)}`;
  }
  if (entry.type === 'hvc1' || entry.type === 'hev1') {
    const hvcC = find('hvcC');
    return hvcC ? hevcCodec(entry.type, hvcC) : entry.type;
  }
  if (entry.type === 'mp4a') {
    const esds = find('esds');
    return esds ? mp4aCodec(esds) : entry.type;
  }
  return entry.type;
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** ISO 14496-15 annex E: hvc1.{space}{profile}.{compatibility, bits reversed}.{tier}{level}.{constraint bytes} */
function hevcCodec(type: string, hvcC: Uint8Array): string {
  const r = new FieldReader(hvcC, 'hvcC');
  r.skip(1);
  const b = r.u8();
  const space = ['', 'A', 'B', 'C'][b >> 6]!;
  const tier = b & 0x20 ? 'H' : 'L';
  const profile = b & 0x1f;
  let compat = r.u32();
  let reversed = 0;
  for (let i = 0; i < 32; i++) {
    reversed = (reversed << 1) | (compat & 1);
    compat >>>= 1;
  }
  const constraints = [...r.bytesOf(6)];
  while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
  const level = r.u8();
  const tail = constraints.map((c) => c.toString(16)).join('.');
  return `${type}.${space}${profile}.${(reversed >>> 0).toString(16)}.${tier}${level}${tail ? `.${tail}` : ''}`;
}

/** mp4a.{objectTypeIndication}.{audio object type} from the esds descriptors (ISO 14496-1 and -3). */
function mp4aCodec(esds: Uint8Array): string {
  const r = new FieldReader(esds, 'esds');
  r.fullBox();
  const es = descriptor(r);
  if (es.tag !== 0x03) return 'mp4a';
  const esReader = new FieldReader(es.body, 'ES_Descriptor');
  esReader.skip(2);
  const flags = esReader.u8();
  if (flags & 0x80) esReader.skip(2);
  if (flags & 0x40) esReader.skip(esReader.u8());
  if (flags & 0x20) esReader.skip(2);
  const dc = descriptor(esReader);
  if (dc.tag !== 0x04) return 'mp4a';
  const dcReader = new FieldReader(dc.body, 'DecoderConfigDescriptor');
  const oti = dcReader.u8();
  dcReader.skip(12);
  if (dcReader.remaining < 2) return `mp4a.${hex2(oti)}`;
  const dsi = descriptor(dcReader);
  if (dsi.tag !== 0x05 || dsi.body.length < 1) return `mp4a.${hex2(oti)}`;
  let aot = dsi.body[0]! >> 3;
  if (aot === 31 && dsi.body.length >= 2) aot = 32 + (((dsi.body[0]! & 0x07) << 3) | (dsi.body[1]! >> 5));
  return `mp4a.${hex2(oti)}.${aot}`;
}

function descriptor(r: FieldReader): { tag: number; body: Uint8Array } {
  const tag = r.u8();
  let size = 0;
  for (let i = 0; i < 4; i++) {
    const b = r.u8();
    size = (size << 7) | (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  return { tag, body: r.bytesOf(size) };
}
