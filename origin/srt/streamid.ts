// An SRT caller's streamid → the stream key it publishes to. Accepts the SRT Access Control syntax
// (`#!::r=<key>,m=publish`, keys in any order, unknown keys ignored) and a bare key. Pure. The binding's access
// hook applies the same rules in C (srt_binding.c, stream_key_of); test/origin/srt/streamid-parity.test.ts holds
// the two together. A refusal's detail goes to logs, so it never quotes the streamid: any part of it may be a key.

/** libsrt refuses longer streamids; anything past this is not ours to parse. */
export const MAX_STREAM_ID_LENGTH = 512;
/** Same bound as the edge's authorize request. */
const MAX_KEY_LENGTH = 200;
const ACCESS_CONTROL_PREFIX = '#!::';
/** Printable ASCII without the characters the Access Control syntax uses as separators. */
const KEY_PATTERN = /^[\x21-\x7e]+$/;
/** A whole (decoded) streamid: printable ASCII and spaces. */
const STREAM_ID_PATTERN = /^[\x20-\x7e]*$/;
/** Field names of the Access Control syntax, safe to name in a refusal; any other name may be a key pasted wrong. */
const STANDARD_FIELDS = new Set(['u', 'r', 'h', 's', 't', 'm']);
const SEPARATORS = /[,=]/;

export type StreamIdRefusal =
  /** nothing to route by */
  | 'missing'
  /** not parseable, or no stream key in it */
  | 'malformed'
  /** `m=request` or `m=bidirectional`: playback is not served over SRT */
  | 'unsupported_mode';

export type ParsedStreamId = { ok: true; streamKey: string } | { ok: false; refusal: StreamIdRefusal; detail: string };

const refuse = (refusal: StreamIdRefusal, detail: string): ParsedStreamId => ({ ok: false, refusal, detail });

export function parseStreamId(raw: string | null | undefined): ParsedStreamId {
  if (raw === null || raw === undefined || raw === '') return refuse('missing', 'the caller sent no streamid');
  if (raw.length > MAX_STREAM_ID_LENGTH) return refuse('malformed', `streamid longer than ${MAX_STREAM_ID_LENGTH} characters`);
  const text = percentDecoded(raw);
  if (text === null) return refuse('malformed', 'streamid has a broken percent-encoding');
  if (!STREAM_ID_PATTERN.test(text)) return refuse('malformed', 'streamid has characters other than printable ASCII');
  if (!text.startsWith(ACCESS_CONTROL_PREFIX)) return bareKey(text);

  const fields = new Map<string, string>();
  for (const item of text.slice(ACCESS_CONTROL_PREFIX.length).split(',')) {
    const eq = item.indexOf('=');
    if (eq <= 0) return refuse('malformed', `field ${fields.size + 1} is not key=value`);
    const key = item.slice(0, eq);
    if (fields.has(key)) return refuse('malformed', `${fieldName(key)} is given twice`);
    fields.set(key, item.slice(eq + 1));
  }
  // Playback is HLS through the edge; a caller asking to receive has come to the wrong place. Without `m` the
  // spec's default is `request`, but publishing is all this port does, so a missing mode means publish.
  const mode = fields.get('m') ?? 'publish';
  if (mode === 'request' || mode === 'bidirectional') {
    return refuse('unsupported_mode', `m=${mode}: playback is not served over SRT, only m=publish`);
  }
  if (mode !== 'publish') return refuse('malformed', 'unknown mode in m=, only m=publish');
  const resource = fields.get('r');
  if (resource === undefined) return refuse('malformed', 'no r=<stream key> in the streamid');
  return validKey(resource);
}

function bareKey(text: string): ParsedStreamId {
  if (text.startsWith('#!')) return refuse('malformed', 'only the #!:: form of the Access Control syntax is understood');
  return validKey(text);
}

function validKey(key: string): ParsedStreamId {
  if (key === '') return refuse('malformed', 'empty stream key');
  if (key.length > MAX_KEY_LENGTH) return refuse('malformed', `stream key longer than ${MAX_KEY_LENGTH} characters`);
  if (!KEY_PATTERN.test(key) || SEPARATORS.test(key)) return refuse('malformed', 'stream key has characters no key has');
  return { ok: true, streamKey: key };
}

/**
 * Some callers send the streamid exactly as it was written in the URL (ffmpeg 5.1 does not decode it), so
 * `%23!%3A%3Ar%3D…` arrives as is. Stream keys have no `%` of their own, which makes decoding safe.
 */
function percentDecoded(raw: string): string | null {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return null;
  }
}

const fieldName = (name: string) => (STANDARD_FIELDS.has(name) ? `field "${name}"` : 'a field');
