// Typed messages: decode of each control type from bytes, commands and their typed reading,
// metadata extraction, malformed bodies, and encode → decode round trips.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Amf0EcmaArray } from '../../../origin/rtmp/amf0.ts';
import type { RawMessage } from '../../../origin/rtmp/message-assembler.ts';
import { command, decodeMessage, encodeMessage, interpretCommand, metadataOf } from '../../../origin/rtmp/messages.ts';
import type { CommandMessage, DataMessage, RtmpMessage } from '../../../origin/rtmp/messages.ts';
import { hex } from './fixtures.ts';

const raw = (typeId: number, payload: Buffer, messageStreamId = 0, timestamp = 0): RawMessage => ({
  chunkStreamId: 2,
  typeId,
  timestamp,
  messageStreamId,
  payload,
});

describe('protocol control and user control messages', () => {
  const cases: [number, string, RtmpMessage][] = [
    [1, '00001000', { type: 'set-chunk-size', chunkSize: 4096 }],
    [2, '00000004', { type: 'abort', chunkStreamId: 4 }],
    [3, '002625a0', { type: 'acknowledgement', sequenceNumber: 2_500_000 }],
    [4, '0000 00000001', { type: 'user-control', event: { kind: 'stream-begin', streamId: 1 } }],
    [4, '0003 00000001 00000bb8', { type: 'user-control', event: { kind: 'set-buffer-length', streamId: 1, bufferMs: 3000 } }],
    [4, '0006 0000abcd', { type: 'user-control', event: { kind: 'ping-request', timestamp: 0xabcd } }],
    [4, '0020 0102', { type: 'user-control', event: { kind: 'unknown', eventType: 0x20, data: hex('0102') } }],
    [5, '002625a0', { type: 'window-ack-size', windowSize: 2_500_000 }],
    [6, '002625a0 02', { type: 'set-peer-bandwidth', windowSize: 2_500_000, limitType: 2 }],
  ];
  for (const [typeId, bytes, expected] of cases) {
    it(`decodes and encodes ${expected.type} ${'event' in expected ? expected.event.kind : ''}`, () => {
      expect(decodeMessage(raw(typeId, hex(bytes)))).toEqual(expected);
      expect(encodeMessage(expected)).toEqual(raw(typeId, hex(bytes)));
    });
  }

  it('refuses bodies too short for their type', () => {
    for (const [typeId, bytes] of [[1, '0000'], [3, ''], [4, '00'], [4, '0000 0001'], [6, '002625a0']] as const) {
      expect(() => decodeMessage(raw(typeId, hex(bytes)))).toThrow(expect.objectContaining({ code: 'message-malformed' }));
    }
  });
});

describe('commands', () => {
  it('reads connect with its app and tcUrl', () => {
    const message = decodeMessage(
      raw(20, Buffer.concat([hex('020007636f6e6e656374 003ff0000000000000'), hex('03 0003 617070 02 0004 6c697665 0005 746355726c 02 0003 782f79 000009')])),
    );
    expect(message).toMatchObject({ type: 'command', name: 'connect', transactionId: 1, args: [] });
    expect(interpretCommand(message as CommandMessage)).toEqual({
      name: 'connect',
      transactionId: 1,
      app: 'live',
      tcUrl: 'x/y',
      objectEncoding: 0,
      properties: { app: 'live', tcUrl: 'x/y' },
    });
  });

  it('reads publish on its message stream, and the other ingest commands', () => {
    const read = (m: CommandMessage) => interpretCommand(decodeMessage(encodeMessage(m)) as CommandMessage);
    expect(read(command('publish', 5, null, ['key?x=1', 'live'], 1))).toEqual({
      name: 'publish',
      transactionId: 5,
      messageStreamId: 1,
      streamName: 'key?x=1',
      publishType: 'live',
    });
    expect(read(command('releaseStream', 2, null, ['k']))).toEqual({ name: 'releaseStream', transactionId: 2, streamName: 'k' });
    expect(read(command('FCPublish', 3, null, []))).toEqual({ name: 'FCPublish', transactionId: 3, streamName: '' });
    expect(read(command('createStream', 4, null))).toEqual({ name: 'createStream', transactionId: 4 });
    expect(read(command('deleteStream', 7, null, [1]))).toEqual({ name: 'deleteStream', transactionId: 7, streamId: 1 });
    expect(read(command('_checkbw', 8, null))).toEqual({ name: 'other', transactionId: 8, commandName: '_checkbw' });
  });

  it('reads AMF3 commands (type 17) that carry AMF0 after a format byte', () => {
    const amf0 = encodeMessage(command('createStream', 4, null)).payload;
    expect(decodeMessage(raw(17, Buffer.concat([hex('00'), amf0])))).toMatchObject({ type: 'command', name: 'createStream', transactionId: 4 });
  });

  it('refuses commands without a name and ingest commands with wrongly typed fields', () => {
    expect(() => decodeMessage(raw(20, hex('00 3ff0000000000000')))).toThrow(expect.objectContaining({ code: 'command-malformed' }));
    expect(() => interpretCommand(command('connect', 1, null))).toThrow(/connect without a command object/);
    expect(() => interpretCommand(command('connect', 1, { app: 5 }))).toThrow(expect.objectContaining({ code: 'command-malformed' }));
    expect(() => interpretCommand(command('publish', 5, null, [42]))).toThrow(/publish stream name is not a string/);
  });
});

describe('data messages', () => {
  const data = (values: DataMessage['values']): DataMessage => ({ type: 'data', timestamp: 0, messageStreamId: 1, values });

  it('finds onMetaData with or without @setDataFrame, as ECMA array or object', () => {
    expect(metadataOf(data(['@setDataFrame', 'onMetaData', new Amf0EcmaArray({ width: 640 })]))).toEqual({ width: 640 });
    expect(metadataOf(data(['onMetaData', { width: 640 }]))).toEqual({ width: 640 });
    expect(metadataOf(data(['onMetaData']))).toEqual({});
    expect(metadataOf(data(['|RtmpSampleAccess', false, false]))).toBeUndefined();
  });
});

describe('encode → decode', () => {
  const u32 = fc.integer({ min: 0, max: 0xffffffff });
  const stamped = { timestamp: u32, messageStreamId: u32 };
  const messageArb: fc.Arbitrary<RtmpMessage> = fc.oneof(
    fc.record({ type: fc.constant('set-chunk-size' as const), chunkSize: u32 }),
    fc.record({ type: fc.constant('abort' as const), chunkStreamId: u32 }),
    fc.record({ type: fc.constant('acknowledgement' as const), sequenceNumber: u32 }),
    fc.record({ type: fc.constant('window-ack-size' as const), windowSize: u32 }),
    fc.record({ type: fc.constant('set-peer-bandwidth' as const), windowSize: u32, limitType: fc.integer({ min: 0, max: 2 }) }),
    fc.record({
      type: fc.constant('user-control' as const),
      event: fc.oneof(
        fc.record({ kind: fc.constantFrom('stream-begin' as const, 'stream-eof' as const, 'stream-dry' as const, 'stream-is-recorded' as const), streamId: u32 }),
        fc.record({ kind: fc.constant('set-buffer-length' as const), streamId: u32, bufferMs: u32 }),
        fc.record({ kind: fc.constantFrom('ping-request' as const, 'ping-response' as const), timestamp: u32 }),
      ),
    }),
    fc.record({ ...stamped, type: fc.constantFrom('audio' as const, 'video' as const), payload: fc.uint8Array({ maxLength: 50 }).map((b) => Buffer.from(b)) }),
    fc.record({ ...stamped, type: fc.constant('data' as const), values: fc.array(fc.oneof(fc.string(), fc.double(), fc.boolean()), { maxLength: 4 }) }),
    fc.record({
      ...stamped,
      type: fc.constant('command' as const),
      name: fc.string({ maxLength: 20 }),
      transactionId: fc.integer({ min: 0, max: 1000 }),
      commandObject: fc.oneof(fc.constant(null), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { noNullPrototype: true })),
      args: fc.array(fc.oneof(fc.string(), fc.double(), fc.constant(null)), { maxLength: 3 }),
    }),
  );

  it('gives the same message back', () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        expect(decodeMessage(encodeMessage(message))).toEqual(message);
      }),
      { numRuns: 400 },
    );
  });
});
