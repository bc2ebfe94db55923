// AMF0, the value encoding of RTMP commands and metadata: encode, and decode under caps on depth,
// string length and element counts so a hostile body cannot make us allocate or recurse without bound.
import { RtmpProtocolError } from './chunk-reader.ts';

export type Amf0Value =
  | number
  | boolean
  | string
  | null
  | undefined
  | Date
  | Amf0Value[]
  | Amf0Object
  | Amf0EcmaArray;

export interface Amf0Object {
  [key: string]: Amf0Value;
}

/** An associative array; kept apart from plain objects so it encodes back with its own marker. */
export class Amf0EcmaArray {
  constructor(readonly entries: Amf0Object) {}
}

export const Amf0Marker = {
  Number: 0x00,
  Boolean: 0x01,
  String: 0x02,
  Object: 0x03,
  Null: 0x05,
  Undefined: 0x06,
  EcmaArray: 0x08,
  ObjectEnd: 0x09,
  StrictArray: 0x0a,
  Date: 0x0b,
  LongString: 0x0c,
} as const;

export interface Amf0Limits {
  /** Containers nested deeper than this are refused. */
  maxDepth: number;
  /** Byte length of any one string (long strings can claim up to 4 GiB). */
  maxStringBytes: number;
  /** Properties or elements of any one container. */
  maxElements: number;
}

export const DEFAULT_AMF0_LIMITS: Amf0Limits = { maxDepth: 16, maxStringBytes: 1024 * 1024, maxElements: 4096 };

/** Properties of an object or ECMA array (onMetaData comes as either), otherwise undefined. */
export function amf0Properties(value: Amf0Value): Amf0Object | undefined {
  if (value instanceof Amf0EcmaArray) return value.entries;
  if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) return value;
  return undefined;
}

/** Sets an own property even for keys like `__proto__`, which plain assignment would turn into a prototype change. */
function defineProperty(target: Amf0Object, key: string, value: Amf0Value): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

export function decodeAmf0(bytes: Buffer, limits: Partial<Amf0Limits> = {}): Amf0Value[] {
  const reader = new Amf0Reader(bytes, { ...DEFAULT_AMF0_LIMITS, ...limits });
  const values: Amf0Value[] = [];
  while (!reader.done) values.push(reader.value(0));
  return values;
}

class Amf0Reader {
  #pos = 0;
  constructor(
    readonly bytes: Buffer,
    readonly limits: Amf0Limits,
  ) {}

  get done(): boolean {
    return this.#pos >= this.bytes.length;
  }

  #take(n: number): number {
    if (this.#pos + n > this.bytes.length) {
      throw new RtmpProtocolError('amf0-malformed', `AMF0 value truncated at byte ${this.#pos}`);
    }
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  #string(length: number): string {
    if (length > this.limits.maxStringBytes) {
      throw new RtmpProtocolError('amf0-limit', `AMF0 string of ${length} bytes, limit ${this.limits.maxStringBytes}`);
    }
    const at = this.#take(length);
    return this.bytes.toString('utf8', at, at + length);
  }

  #shortString(): string {
    return this.#string(this.bytes.readUInt16BE(this.#take(2)));
  }

  #enter(depth: number): number {
    if (depth >= this.limits.maxDepth) {
      throw new RtmpProtocolError('amf0-limit', `AMF0 nesting deeper than ${this.limits.maxDepth}`);
    }
    return depth + 1;
  }

  #count(n: number): void {
    if (n > this.limits.maxElements) {
      throw new RtmpProtocolError('amf0-limit', `AMF0 container with more than ${this.limits.maxElements} elements`);
    }
  }

  /** Key/value pairs up to the empty key followed by the object-end marker. */
  #properties(depth: number): Amf0Object {
    const inner = this.#enter(depth);
    const out: Amf0Object = {};
    let count = 0;
    for (;;) {
      const key = this.#shortString();
      if (key === '' && this.bytes[this.#pos] === Amf0Marker.ObjectEnd) {
        this.#pos += 1;
        return out;
      }
      this.#count(++count);
      defineProperty(out, key, this.value(inner));
    }
  }

  value(depth: number): Amf0Value {
    const marker = this.bytes[this.#take(1)]!;
    switch (marker) {
      case Amf0Marker.Number:
        return this.bytes.readDoubleBE(this.#take(8));
      case Amf0Marker.Boolean:
        return this.bytes[this.#take(1)] !== 0;
      case Amf0Marker.String:
        return this.#shortString();
      case Amf0Marker.LongString:
        return this.#string(this.bytes.readUInt32BE(this.#take(4)));
      case Amf0Marker.Object:
        return this.#properties(depth);
      case Amf0Marker.Null:
        return null;
      case Amf0Marker.Undefined:
        return undefined;
      case Amf0Marker.EcmaArray:
        // The announced count is only a hint (encoders write 0 too); the end marker is authoritative.
        this.#take(4);
        return new Amf0EcmaArray(this.#properties(depth));
      case Amf0Marker.StrictArray: {
        const length = this.bytes.readUInt32BE(this.#take(4));
        this.#count(length);
        const inner = this.#enter(depth);
        const items: Amf0Value[] = [];
        for (let i = 0; i < length; i++) items.push(this.value(inner));
        return items;
      }
      case Amf0Marker.Date: {
        const at = this.#take(10);
        // The trailing time zone is reserved and ignored by every implementation.
        return new Date(this.bytes.readDoubleBE(at));
      }
      case Amf0Marker.ObjectEnd:
        throw new RtmpProtocolError('amf0-malformed', 'AMF0 object end outside an object');
      default:
        throw new RtmpProtocolError('amf0-malformed', `unsupported AMF0 marker 0x${marker.toString(16)}`);
    }
  }
}

export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  for (const value of values) writeValue(parts, value);
  return Buffer.concat(parts);
}

function byte(n: number): Buffer {
  return Buffer.of(n);
}

function writeShortString(parts: Buffer[], text: string): void {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > 0xffff) throw new RangeError(`AMF0 property name of ${bytes.length} bytes exceeds 65535`);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  parts.push(length, bytes);
}

function writeProperties(parts: Buffer[], properties: Amf0Object): void {
  for (const key of Object.keys(properties)) {
    writeShortString(parts, key);
    writeValue(parts, properties[key]);
  }
  parts.push(Buffer.of(0, 0, Amf0Marker.ObjectEnd));
}

function writeValue(parts: Buffer[], value: Amf0Value): void {
  if (value === null) {
    parts.push(byte(Amf0Marker.Null));
  } else if (value === undefined) {
    parts.push(byte(Amf0Marker.Undefined));
  } else if (typeof value === 'number') {
    const b = Buffer.alloc(9);
    b[0] = Amf0Marker.Number;
    b.writeDoubleBE(value, 1);
    parts.push(b);
  } else if (typeof value === 'boolean') {
    parts.push(Buffer.of(Amf0Marker.Boolean, value ? 1 : 0));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length <= 0xffff) {
      const head = Buffer.alloc(3);
      head[0] = Amf0Marker.String;
      head.writeUInt16BE(bytes.length, 1);
      parts.push(head, bytes);
    } else {
      const head = Buffer.alloc(5);
      head[0] = Amf0Marker.LongString;
      head.writeUInt32BE(bytes.length, 1);
      parts.push(head, bytes);
    }
  } else if (value instanceof Date) {
    const b = Buffer.alloc(11);
    b[0] = Amf0Marker.Date;
    b.writeDoubleBE(value.getTime(), 1);
    parts.push(b);
  } else if (Array.isArray(value)) {
    const head = Buffer.alloc(5);
    head[0] = Amf0Marker.StrictArray;
    head.writeUInt32BE(value.length, 1);
    parts.push(head);
    for (const item of value) writeValue(parts, item);
  } else if (value instanceof Amf0EcmaArray) {
    const head = Buffer.alloc(5);
    head[0] = Amf0Marker.EcmaArray;
    head.writeUInt32BE(Object.keys(value.entries).length, 1);
    parts.push(head);
    writeProperties(parts, value.entries);
  } else {
    parts.push(byte(Amf0Marker.Object));
    writeProperties(parts, value);
  }
}
