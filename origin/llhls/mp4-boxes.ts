// ISO BMFF (MP4) box walking over bytes already in memory: headers, children, and the few full-box fields the LL-HLS
// packager reads (moov's tracks and codecs, moof's decode times, durations and sample flags). Pure; throws Mp4BoxError.

export class Mp4BoxError extends Error {
  override readonly name = 'Mp4BoxError';
}

export interface BoxHeader {
  type: string;
  /** header length: 8, or 16 with a 64-bit size */
  headerSize: number;
  /** whole box, header included */
  size: number;
}

/**
 * The header of the box starting at `offset`, or undefined when fewer bytes than the header are there. A size of 0
 * ("to the end of the file") has no meaning in a stream and is refused, as is a size smaller than its own header.
 */
export function readBoxHeader(bytes: Uint8Array, offset: number): BoxHeader | undefined {
  if (bytes.length - offset < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  const size32 = view.getUint32(0);
  const type = String.fromCharCode(bytes[offset + 4]!, bytes[offset + 5]!, bytes[offset + 6]!, bytes[offset + 7]!);
  if (size32 === 1) {
    if (bytes.length - offset < 16) return undefined;
    const size = Number(view.getBigUint64(8));
    if (size < 16) throw new Mp4BoxError(`box ${printable(type)} has a 64-bit size of ${size}, smaller than its header`);
    return { type, headerSize: 16, size };
  }
  if (size32 === 0) throw new Mp4BoxError(`box ${printable(type)} runs to the end of the file, which a stream has not`);
  if (size32 < 8) throw new Mp4BoxError(`box ${printable(type)} has a size of ${size32}, smaller than its header`);
  return { type, headerSize: 8, size: size32 };
}

export interface Box {
  type: string;
  /** the box's payload (after its header) */
  body: Uint8Array;
}

/** The boxes laid end to end in `bytes` (a container's payload); a box running past the end is an error. */
export function childBoxes(bytes: Uint8Array): Box[] {
  const boxes: Box[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const header = readBoxHeader(bytes, offset);
    if (!header || offset + header.size > bytes.length) throw new Mp4BoxError(`box ${header ? printable(header.type) : 'header'} is cut short inside its parent`);
    boxes.push({ type: header.type, body: bytes.subarray(offset + header.headerSize, offset + header.size) });
    offset += header.size;
  }
  return boxes;
}

export function child(bytes: Uint8Array, type: string): Box | undefined {
  return childBoxes(bytes).find((b) => b.type === type);
}

/** Bounds-checked big-endian reads over one box's payload. */
export class FieldReader {
  private readonly view: DataView;
  offset: number;

  constructor(private readonly bytes: Uint8Array, private readonly what: string, offset = 0) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.offset = offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  private need(n: number): void {
    if (this.offset + n > this.bytes.length) throw new Mp4BoxError(`${this.what} is too short`);
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u24(): number {
    return this.u8() * 65536 + this.u16();
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.offset);
    this.offset += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.offset);
    this.offset += 8;
    return Number(v);
  }

  skip(n: number): void {
    this.need(n);
    this.offset += n;
  }

  bytesOf(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** version (8 bits) and flags (24 bits) of a full box */
  fullBox(): { version: number; flags: number } {
    const version = this.u8();
    return { version, flags: this.u24() };
  }
}

function printable(type: string): string {
  return /^[\x20-\x7e]{4}$/.test(type) ? `'${type}'` : 'of unprintable type';
}
