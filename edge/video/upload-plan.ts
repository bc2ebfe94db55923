// The rules of the one-time upload URL, without I/O: the part size an upload gets, whether a part may be taken, and
// whether the parts received make a whole file. R2 multipart wants every part but the last of one size (and ≥ 5 MiB),
// so a part of the wrong size is refused when it arrives — naming it — not when the file is put together.

const MiB = 1024 * 1024;

/** The part size unless the file's announced size needs larger parts to fit in MAX_UPLOAD_PARTS. */
export const DEFAULT_PART_SIZE = 16 * MiB;
/** Larger parts would not fit one request of the edge comfortably (the body limit of /uploads is a part plus headroom). */
export const MAX_PART_SIZE = 64 * MiB;
export const MAX_UPLOAD_PARTS = 1000;
/** A file sent as one `PUT /uploads/{token}` body, without parts. */
export const MAX_ONE_SHOT_BYTES = 100 * MiB;
/** The largest upload unless VIDEO_UPLOAD_MAX_BYTES says otherwise. */
export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * MiB;
export const UPLOAD_TTL_MS = 24 * 3600_000;

export interface UploadPlan {
  partSize: number;
  maxParts: number;
}

export interface UploadRefusal {
  status: 400 | 409 | 413;
  type: string;
  title: string;
  detail: string;
  field?: string;
}

export interface ReceivedPart {
  n: number;
  size: number;
  etag: string;
}

/** VIDEO_UPLOAD_MAX_BYTES, or the default when unset or unreadable. */
export function maxUploadBytes(setting: string | undefined): number {
  const value = Number(setting);
  return setting && Number.isSafeInteger(value) && value > 0 ? value : DEFAULT_MAX_UPLOAD_BYTES;
}

/**
 * The part size and part count for a file of `sizeHint` bytes (unknown: the default), so that maxParts × partSize never
 * exceeds `maxBytes` yet holds the file: the smallest whole number of MiB from DEFAULT_PART_SIZE up to MAX_PART_SIZE that
 * does (at most 49 tries).
 */
export function planUpload(sizeHint: number | undefined, maxBytes: number): { ok: true; plan: UploadPlan } | { ok: false; refusal: UploadRefusal } {
  const partsFor = (partSize: number) => Math.max(1, Math.min(MAX_UPLOAD_PARTS, Math.floor(maxBytes / partSize)));
  if (sizeHint === undefined) return { ok: true, plan: { partSize: DEFAULT_PART_SIZE, maxParts: partsFor(DEFAULT_PART_SIZE) } };
  if (sizeHint > maxBytes) {
    return {
      ok: false,
      refusal: { status: 400, type: 'upload-too-large', title: 'Upload too large', field: 'size', detail: `size is ${sizeHint} bytes; an upload holds at most ${maxBytes}` },
    };
  }
  for (let partSize = DEFAULT_PART_SIZE; partSize <= MAX_PART_SIZE; partSize += MiB) {
    const maxParts = partsFor(partSize);
    if (maxParts * partSize >= sizeHint) return { ok: true, plan: { partSize, maxParts } };
  }
  return {
    ok: false,
    refusal: {
      status: 400,
      type: 'upload-too-large',
      title: 'Upload too large',
      field: 'size',
      detail: `size is ${sizeHint} bytes; ${MAX_UPLOAD_PARTS} parts of at most ${MAX_PART_SIZE} bytes within the ${maxBytes}-byte limit cannot hold it`,
    },
  };
}

const wrongSize = (detail: string): UploadRefusal => ({ status: 400, type: 'wrong-part-size', title: 'Wrong part size', detail });

/**
 * Whether part `n` of `size` bytes may be stored beside the parts already received (its own earlier copy is replaced,
 * so it does not count). Every part but the last is exactly partSize: a shorter part is the last one, so no part may
 * follow it, and it may not come before parts already received.
 */
export function judgePart(n: number, size: number, plan: UploadPlan, received: readonly ReceivedPart[], maxBytes: number): UploadRefusal | null {
  if (!Number.isInteger(n) || n < 1 || n > plan.maxParts) {
    return { status: 400, type: 'invalid-part-number', title: 'Invalid part number', field: 'n', detail: `part numbers run from 1 to ${plan.maxParts}` };
  }
  if (size === 0) return { status: 400, type: 'empty-part', title: 'Empty part', detail: `part ${n} has no bytes` };
  if (size > plan.partSize) return wrongSize(`part ${n} is ${size} bytes; every part is ${plan.partSize} bytes (the last may be shorter)`);
  const others = received.filter((part) => part.n !== n);
  if (size < plan.partSize) {
    const later = others.find((part) => part.n > n);
    if (later) {
      return wrongSize(`part ${n} is ${size} bytes, shorter than ${plan.partSize}, so it would be the last part — but part ${later.n} was received; only the last part may be shorter`);
    }
  }
  const shortEarlier = others.find((part) => part.n < n && part.size < plan.partSize);
  if (shortEarlier) {
    return wrongSize(`part ${shortEarlier.n} is ${shortEarlier.size} bytes, shorter than ${plan.partSize}, so it is the last part; no part ${n} may follow it (re-send part ${shortEarlier.n} whole first)`);
  }
  const total = others.reduce((sum, part) => sum + part.size, 0) + size;
  if (total > maxBytes) {
    return { status: 413, type: 'upload-too-large', title: 'Upload too large', detail: `with part ${n} the upload would be ${total} bytes; it holds at most ${maxBytes}` };
  }
  return null;
}

/** The parts in order and the file's size when they make a whole file: 1…k, all but part k exactly partSize. */
export function judgeCompletion(received: readonly ReceivedPart[], plan: UploadPlan): { ok: true; parts: ReceivedPart[]; size: number } | { ok: false; refusal: UploadRefusal } {
  const parts = [...received].sort((a, b) => a.n - b.n);
  if (parts.length === 0) {
    return { ok: false, refusal: { status: 400, type: 'empty-upload', title: 'Empty upload', detail: 'no part was received: PUT the file to /uploads/{token}/parts/1… first' } };
  }
  for (const [index, part] of parts.entries()) {
    if (part.n !== index + 1) {
      return { ok: false, refusal: { status: 400, type: 'missing-part', title: 'Missing part', detail: `part ${index + 1} was never received (parts ${parts.map((p) => p.n).join(', ')} were)` } };
    }
    const last = index === parts.length - 1;
    if (!last && part.size !== plan.partSize) {
      return { ok: false, refusal: wrongSize(`part ${part.n} is ${part.size} bytes; every part but the last is ${plan.partSize} bytes`) };
    }
  }
  return { ok: true, parts, size: parts.reduce((sum, part) => sum + part.size, 0) };
}

/** The lowest part number not yet received: where a resumed upload carries on. */
export function nextPart(received: readonly ReceivedPart[]): number {
  const have = new Set(received.map((part) => part.n));
  let n = 1;
  while (have.has(n)) n += 1;
  return n;
}

/** 32 random bytes, base64url without padding (43 characters): the one-time secret of an upload URL. */
export function newUploadToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export const UPLOAD_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
