// Client-side byte streams for RTMP tests and scripts/fuzz-rtmp.ts: what a publishing encoder sends,
// built with our own writer, plus fast-check arbitraries for valid, split and mutated streams.
import fc from 'fast-check';
import { Amf0EcmaArray } from '../../../origin/rtmp/amf0.ts';
import { ChunkWriter } from '../../../origin/rtmp/chunk-writer.ts';
import { HANDSHAKE_PACKET_SIZE } from '../../../origin/rtmp/handshake.ts';
import { command, encodeMessage } from '../../../origin/rtmp/messages.ts';
import type { RtmpMessage } from '../../../origin/rtmp/messages.ts';
import { PublishSession, maxSessionBufferedBytes, DEFAULT_SESSION_LIMITS } from '../../../origin/rtmp/publish-session.ts';
import type { PublishSessionLimits, SessionOutput } from '../../../origin/rtmp/publish-session.ts';

export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** C0 (version 3) + C1 (time 0, zero, then a recognisable pattern), and a C2. */
export function clientHandshake(): { c0c1: Buffer; c2: Buffer } {
  const c0c1 = Buffer.alloc(1 + HANDSHAKE_PACKET_SIZE);
  c0c1[0] = 3;
  for (let i = 9; i < c0c1.length; i++) c0c1[i] = i & 0xff;
  const c2 = Buffer.alloc(HANDSHAKE_PACKET_SIZE, 0xc2);
  return { c0c1, c2 };
}

export interface MediaSpec {
  type: 'audio' | 'video';
  /** Milliseconds since the previous frame. */
  delta: number;
  size: number;
}

export interface PublishScript {
  app: string;
  streamName: string;
  /** The client's outgoing chunk size, announced with Set Chunk Size before connect when not 128. */
  chunkSize: number;
  compressHeaders: boolean;
  /** Announce a window so the server has to acknowledge. */
  windowAckSize?: number;
  media: MediaSpec[];
  unpublish: boolean;
}

export const defaultScript: PublishScript = {
  app: 'live',
  streamName: 'testkey',
  chunkSize: 128,
  compressHeaders: true,
  media: [
    { type: 'video', delta: 0, size: 300 },
    { type: 'audio', delta: 0, size: 20 },
    { type: 'audio', delta: 21, size: 20 },
    { type: 'video', delta: 12, size: 5000 },
  ],
  unpublish: true,
};

/** The commands an FFmpeg-like publisher sends, in order; media after publish. */
export function publishMessages(script: PublishScript): RtmpMessage[] {
  const messages: RtmpMessage[] = [];
  if (script.chunkSize !== 128) messages.push({ type: 'set-chunk-size', chunkSize: script.chunkSize });
  if (script.windowAckSize) messages.push({ type: 'window-ack-size', windowSize: script.windowAckSize });
  messages.push(
    command('connect', 1, { app: script.app, type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl: `rtmp://127.0.0.1/${script.app}` }),
    command('releaseStream', 2, null, [script.streamName]),
    command('FCPublish', 3, null, [script.streamName]),
    command('createStream', 4, null),
    command('publish', 5, null, [script.streamName, 'live'], 1),
    {
      type: 'data',
      timestamp: 0,
      messageStreamId: 1,
      values: ['@setDataFrame', 'onMetaData', new Amf0EcmaArray({ width: 640, height: 360, videocodecid: 7, audiocodecid: 10 })],
    },
  );
  let timestamp = 0;
  script.media.forEach((frame, i) => {
    timestamp += frame.delta;
    const payload = Buffer.alloc(frame.size, i & 0xff);
    if (frame.size > 0) payload[0] = frame.type === 'video' ? 0x17 : 0xaf;
    messages.push({ type: frame.type, timestamp, messageStreamId: 1, payload });
  });
  if (script.unpublish) {
    messages.push(command('FCUnpublish', 6, null, [script.streamName]), command('deleteStream', 7, null, [1]));
  }
  return messages;
}

/** Chunk bytes for messages, with the writer switched to the new size right after a Set Chunk Size. */
export function chunkMessages(messages: RtmpMessage[], compressHeaders = true): Buffer {
  const writer = new ChunkWriter({ compressHeaders });
  const parts: Buffer[] = [];
  for (const message of messages) {
    parts.push(writer.write(encodeMessage(message)));
    if (message.type === 'set-chunk-size') writer.setChunkSize(message.chunkSize);
  }
  return Buffer.concat(parts);
}

export function publishStream(script: PublishScript = defaultScript): Buffer {
  return publishStreamRegions(script).bytes;
}

/** Cuts bytes at the given fractions of its length (sorted, deduplicated). */
export function splitAt(bytes: Buffer, fractions: number[]): Buffer[] {
  const points = [...new Set(fractions.map((f) => Math.floor(f * bytes.length)))].sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    if (point <= from) continue;
    pieces.push(bytes.subarray(from, point));
    from = point;
  }
  pieces.push(bytes.subarray(from));
  return pieces;
}

export interface DriveResult {
  outputs: SessionOutput[];
  maxBuffered: number;
}

/**
 * Feeds pieces to a session the way the server does, answering each publish request with
 * `decide` (true accepts). Never catches: a throw is a finding.
 */
export function drive(session: PublishSession, pieces: Buffer[], decide: (n: number) => boolean = () => true): DriveResult {
  const outputs: SessionOutput[] = [];
  let maxBuffered = 0;
  let requests = 0;
  const take = (batch: SessionOutput[]): void => {
    for (const output of batch) {
      outputs.push(output);
      if (output.type === 'publish-requested') {
        const accepted = decide(requests++);
        take(accepted ? session.acceptPublish() : session.rejectPublish('Stream key not allowed.'));
      }
    }
  };
  for (const piece of pieces) {
    take(session.feed(piece));
    maxBuffered = Math.max(maxBuffered, session.bufferedBytes);
  }
  return { outputs, maxBuffered };
}

/** Limits small enough that fuzzing reaches them. */
export const fuzzLimits: PublishSessionLimits = {
  ...DEFAULT_SESSION_LIMITS,
  maxChunkStreams: 8,
  maxMediaMessageBytes: 64 * 1024,
  maxDataMessageBytes: 8 * 1024,
  maxCommandMessageBytes: 4 * 1024,
  maxPartialBytes: 96 * 1024,
  maxPendingMediaBytes: 32 * 1024,
};

export const fuzzBufferBound = maxSessionBufferedBytes(fuzzLimits);

const mediaArb: fc.Arbitrary<MediaSpec> = fc.record({
  type: fc.constantFrom('audio' as const, 'video' as const),
  delta: fc.oneof(fc.integer({ min: 0, max: 100 }), fc.constant(0xffffff), fc.integer({ min: 0, max: 0x7fffffff })),
  size: fc.oneof(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 8000 })),
});

export const publishScriptArb: fc.Arbitrary<PublishScript> = fc.record({
  app: fc.constantFrom('live', 'live/sub', 'app?token=x', ''),
  streamName: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('testkey', 'key?secret=1') },
    { weight: 2, arbitrary: fc.string({ minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constant('') },
  ),
  chunkSize: fc.oneof(fc.constant(128), fc.integer({ min: 1, max: 512 }), fc.integer({ min: 1, max: 65_536 })),
  compressHeaders: fc.boolean(),
  windowAckSize: fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: undefined }),
  media: fc.array(mediaArb, { maxLength: 12 }),
  unpublish: fc.boolean(),
});

/** One edit of a byte stream, positions as fractions so they fit any length. */
export type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'xor'; at: number; mask: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'truncate'; at: number };

/** A uniform fraction; fast-check's own doubles lean towards 0, which would put every edit at the start. */
const at = fc.noBias(fc.integer({ min: 0, max: 999_999 })).map((n) => n / 1_000_000);

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at, value: fc.constantFrom(0, 1, 0x3f, 0x7f, 0x80, 0xff, 0xc3) }),
  fc.record({ kind: fc.constant('xor' as const), at, mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at, length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('duplicate' as const), at, length: fc.integer({ min: 1, max: 256 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at }),
);

export function mutate(bytes: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const i = Math.floor(m.at * out.length);
    switch (m.kind) {
      case 'set':
        if (i < out.length) out[i] = m.value;
        break;
      case 'xor':
        if (i < out.length) out[i] = out[i]! ^ m.mask;
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, i), m.bytes, out.subarray(i)]);
        break;
      case 'delete':
        out = Buffer.concat([out.subarray(0, i), out.subarray(i + m.length)]);
        break;
      case 'duplicate':
        out = Buffer.concat([out.subarray(0, i + m.length), out.subarray(i)]);
        break;
      case 'truncate':
        out = out.subarray(0, i);
        break;
    }
  }
  return out;
}

/** Where edits land: anywhere, past the handshake, or past publish (so media and the pending queue get hit). */
export type MutationRegion = 'anywhere' | 'after-handshake' | 'after-publish';

export function publishStreamRegions(script: PublishScript): { bytes: Buffer; handshakeEnd: number; publishEnd: number } {
  const { c0c1, c2 } = clientHandshake();
  const messages = publishMessages(script);
  const publishAt = messages.findIndex((m) => m.type === 'command' && m.name === 'publish');
  const handshakeEnd = c0c1.length + c2.length;
  // The writer is deterministic, so the bytes up to publish are a prefix of the whole stream.
  const publishEnd = handshakeEnd + chunkMessages(messages.slice(0, publishAt + 1), script.compressHeaders).length;
  const bytes = Buffer.concat([c0c1, c2, chunkMessages(messages, script.compressHeaders)]);
  return { bytes, handshakeEnd, publishEnd };
}

/** A valid publish stream with a few edits in one region, fed in random pieces. */
export const mutatedFeedArb = fc
  .record({
    script: publishScriptArb,
    mutations: fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
    region: fc.oneof(
      { weight: 1, arbitrary: fc.constant<MutationRegion>('anywhere') },
      { weight: 2, arbitrary: fc.constant<MutationRegion>('after-handshake') },
      { weight: 3, arbitrary: fc.constant<MutationRegion>('after-publish') },
    ),
    splits: fc.array(at, { maxLength: 12 }),
    accept: fc.boolean(),
  })
  .map(({ script, mutations, region, splits, accept }) => {
    const { bytes, handshakeEnd, publishEnd } = publishStreamRegions(script);
    const from = region === 'anywhere' ? 0 : region === 'after-handshake' ? handshakeEnd : publishEnd;
    const mutated = Buffer.concat([bytes.subarray(0, from), mutate(bytes.subarray(from), mutations)]);
    return { pieces: splitAt(mutated, splits), accept };
  });

/** Random bytes after a valid handshake, so they reach the chunk layer. */
export const randomFeedArb = fc
  .record({ body: fc.uint8Array({ maxLength: 4096 }), splits: fc.array(at, { maxLength: 8 }) })
  .map(({ body, splits }) => {
    const { c0c1, c2 } = clientHandshake();
    return { pieces: splitAt(Buffer.concat([c0c1, c2, body]), splits), accept: true };
  });
