// PublishSession: the conversation with a publishing client (replies decoded from the bytes it writes),
// the host's accept/reject, acknowledgements, and fuzz properties over split, random and mutated input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RtmpProtocolError } from '../../../origin/rtmp/chunk-reader.ts';
import { HANDSHAKE_PACKET_SIZE } from '../../../origin/rtmp/handshake.ts';
import { IngestBudget } from '../../../origin/rtmp/ingest-limits.ts';
import { MessageAssembler } from '../../../origin/rtmp/message-assembler.ts';
import { command, decodeMessage } from '../../../origin/rtmp/messages.ts';
import type { RtmpMessage } from '../../../origin/rtmp/messages.ts';
import { PublishSession } from '../../../origin/rtmp/publish-session.ts';
import type { SessionOutput } from '../../../origin/rtmp/publish-session.ts';
import {
  chunkMessages,
  clientHandshake,
  defaultScript,
  drive,
  fuzzBufferBound,
  fuzzLimits,
  mutatedFeedArb,
  publishMessages,
  publishScriptArb,
  publishStream,
  randomFeedArb,
  splitAt,
} from './fixtures.ts';
import type { PublishScript } from './fixtures.ts';

const filler = (size: number): Buffer => Buffer.alloc(size, 0xab);
const newSession = () => new PublishSession({ randomBytes: filler });

/** What the server said, read back the way a client would: skip S0+S1+S2, then chunks. */
function serverMessages(outputs: SessionOutput[]): RtmpMessage[] {
  const written = Buffer.concat(outputs.flatMap((o) => (o.type === 'write' ? [o.bytes] : [])));
  return new MessageAssembler().push(written.subarray(1 + 2 * HANDSHAKE_PACKET_SIZE)).map(decodeMessage);
}

const events = (outputs: SessionOutput[]) => outputs.filter((o) => o.type !== 'write');
const commandsOf = (messages: RtmpMessage[]) =>
  messages.flatMap((m) => (m.type === 'command' ? [[m.name, m.transactionId, m.messageStreamId, ...m.args]] : []));

describe('PublishSession conversation', () => {
  it('handshakes, answers connect/releaseStream/FCPublish/createStream, and asks the host on publish', () => {
    const session = newSession();
    const outputs = session.feed(publishStream({ ...defaultScript, media: [], unpublish: false }));
    expect(events(outputs)).toEqual([{ type: 'publish-requested', app: 'live', streamKey: 'testkey', tcUrl: 'rtmp://127.0.0.1/live' }]);
    expect(session.state).toBe('publish-pending');

    const replies = serverMessages(outputs);
    expect(replies.slice(0, 3)).toEqual([
      { type: 'window-ack-size', windowSize: 2_500_000 },
      { type: 'set-peer-bandwidth', windowSize: 2_500_000, limitType: 2 },
      { type: 'set-chunk-size', chunkSize: 4096 },
    ]);
    expect(commandsOf(replies)).toEqual([
      [
        '_result',
        1,
        0,
        { level: 'status', code: 'NetConnection.Connect.Success', description: 'Connection succeeded.', objectEncoding: 0 },
      ],
      ['_result', 2, 0, undefined],
      ['_result', 3, 0, undefined],
      ['onFCPublish', 0, 0, { level: 'status', code: 'NetStream.Publish.Start', description: 'FCPublish received.' }],
      ['_result', 4, 0, 1],
    ]);

    const accepted = session.acceptPublish();
    expect(session.state).toBe('publishing');
    const all = serverMessages([...outputs, ...accepted]);
    expect(all).toContainEqual({ type: 'user-control', event: { kind: 'stream-begin', streamId: 1 } });
    expect(commandsOf(all).at(-1)).toEqual([
      'onStatus',
      0,
      1,
      { level: 'status', code: 'NetStream.Publish.Start', description: 'Publishing started.' },
    ]);
  });

  it('strips the query from stream key and app', () => {
    const outputs = newSession().feed(publishStream({ ...defaultScript, app: 'live?token=abc', streamName: 'key?secret=1', media: [] }));
    expect(events(outputs)[0]).toMatchObject({ type: 'publish-requested', app: 'live', streamKey: 'key' });
  });

  it('holds media that arrives before the decision and releases it in order on accept', () => {
    const session = newSession();
    const outputs = session.feed(publishStream(defaultScript));
    expect(events(outputs).map((o) => o.type)).toEqual(['publish-requested']);
    // The four media bodies plus the 116-byte @setDataFrame message.
    expect(session.bufferedBytes).toBe(300 + 20 + 20 + 5000 + 116);
    const released = session.acceptPublish();
    expect(events(released).map((o) => [o.type, 'timestamp' in o ? o.timestamp : undefined, 'payload' in o ? o.payload.length : undefined])).toEqual([
      ['metadata', 0, undefined],
      ['video', 0, 300],
      ['audio', 0, 20],
      ['audio', 21, 20],
      ['video', 33, 5000],
      ['unpublished', undefined, undefined],
    ]);
    expect(events(released)[0]).toEqual({ type: 'metadata', timestamp: 0, properties: { width: 640, height: 360, videocodecid: 7, audiocodecid: 10 } });
    expect(session.state).toBe('ended');
    expect(session.bufferedBytes).toBe(0);
  });

  it('delivers media straight away once publishing', () => {
    const session = newSession();
    const { c0c1, c2 } = clientHandshake();
    const messages = publishMessages(defaultScript);
    const publishAt = messages.findIndex((m) => m.type === 'command' && m.name === 'publish');
    const bytes = chunkMessages(messages);
    const firstPart = chunkMessages(messages.slice(0, publishAt + 1));
    session.feed(Buffer.concat([c0c1, c2, firstPart]));
    session.acceptPublish();
    const media = events(session.feed(bytes.subarray(firstPart.length)));
    expect(media.map((o) => o.type)).toEqual(['metadata', 'video', 'audio', 'audio', 'video', 'unpublished']);
  });

  it('on reject sends an error status with the reason, drops held media and ignores the rest', () => {
    const session = newSession();
    const outputs = session.feed(publishStream({ ...defaultScript, unpublish: false }));
    const rejected = session.rejectPublish('Stream key is disabled.');
    expect(events(rejected)).toEqual([]);
    expect(commandsOf(serverMessages([...outputs, ...rejected])).at(-1)).toEqual([
      'onStatus',
      0,
      1,
      { level: 'error', code: 'NetStream.Publish.BadName', description: 'Stream key is disabled.' },
    ]);
    expect(session.state).toBe('rejected');
    expect(session.bufferedBytes).toBe(0);
    expect(session.feed(chunkMessages([{ type: 'audio', timestamp: 1, messageStreamId: 1, payload: Buffer.alloc(9) }]))).toEqual([]);
    expect(session.acceptPublish()).toEqual([]);
  });

  it('can reject as Unauthorized', () => {
    const session = newSession();
    const outputs = session.feed(publishStream({ ...defaultScript, media: [] }));
    const rejected = session.rejectPublish('Unknown stream key.', 'Unauthorized');
    expect(commandsOf(serverMessages([...outputs, ...rejected])).at(-1)?.[3]).toMatchObject({ level: 'error', code: 'NetStream.Publish.Unauthorized' });
  });

  it('refuses a publish without a stream key', () => {
    const outputs = newSession().feed(publishStream({ ...defaultScript, streamName: '?x=1', media: [] }));
    expect(events(outputs)).toEqual([{ type: 'error', error: expect.objectContaining({ code: 'publish-name' }) }]);
    expect(commandsOf(serverMessages(outputs)).at(-1)?.[3]).toMatchObject({ level: 'error', code: 'NetStream.Publish.BadName' });
  });

  it('acknowledges by the window the client announced', () => {
    const session = newSession();
    const script: PublishScript = { ...defaultScript, windowAckSize: 4000, media: Array.from({ length: 10 }, () => ({ type: 'video' as const, delta: 33, size: 1000 })) };
    const pieces = splitAt(publishStream(script), Array.from({ length: 40 }, (_, i) => i / 40));
    const { outputs } = drive(session, pieces);
    const acks = serverMessages(outputs).flatMap((m) => (m.type === 'acknowledgement' ? [m.sequenceNumber] : []));
    expect(acks.length).toBeGreaterThanOrEqual(3);
    acks.forEach((n, i) => {
      expect(n).toBeGreaterThanOrEqual((i + 1) * 4000);
      if (i > 0) expect(n - acks[i - 1]!).toBeGreaterThanOrEqual(4000);
    });
  });

  it('answers a ping request', () => {
    const session = newSession();
    const { c0c1, c2 } = clientHandshake();
    const outputs = session.feed(
      Buffer.concat([c0c1, c2, chunkMessages([{ type: 'user-control', event: { kind: 'ping-request', timestamp: 77 } }])]),
    );
    expect(serverMessages(outputs)).toEqual([{ type: 'user-control', event: { kind: 'ping-response', timestamp: 77 } }]);
  });

  it('fails on commands out of order', () => {
    const { c0c1, c2 } = clientHandshake();
    const early = newSession().feed(Buffer.concat([c0c1, c2, chunkMessages([command('publish', 1, null, ['k'], 1)])]));
    expect(events(early)).toEqual([{ type: 'error', error: expect.objectContaining({ code: 'unexpected-command' }) }]);

    const twice = newSession();
    twice.feed(publishStream({ ...defaultScript, media: [], unpublish: false }));
    const again = twice.feed(chunkMessages([command('publish', 9, null, ['k'], 1)]));
    expect(events(again)).toEqual([{ type: 'error', error: expect.objectContaining({ code: 'unexpected-command' }) }]);
    expect(twice.state).toBe('failed');
    expect(twice.feed(Buffer.alloc(10))).toEqual([]);
  });

  it('fails when held media exceeds its limit', () => {
    const session = new PublishSession({ limits: { maxPendingMediaBytes: 1000 } });
    const outputs = session.feed(publishStream({ ...defaultScript, media: [{ type: 'video', delta: 0, size: 1001 }] }));
    expect(events(outputs).map((o) => o.type)).toEqual(['publish-requested', 'error']);
    expect(session.bufferedBytes).toBe(0);
  });
});

describe('PublishSession input limits', () => {
  const video = (size: number): RtmpMessage => ({ type: 'video', timestamp: 0, messageStreamId: 1, payload: Buffer.alloc(size, 0x17) });

  it('refuses audio, video and data before connect and before publish, as the header arrives', () => {
    const { c0c1, c2 } = clientHandshake();
    const connect = command('connect', 1, { app: 'live', tcUrl: 'rtmp://127.0.0.1/live' });
    const cases: RtmpMessage[][] = [
      [video(300)],
      [connect, video(100_000)],
      [connect, { type: 'audio', timestamp: 0, messageStreamId: 1, payload: Buffer.alloc(20) }],
      [connect, command('createStream', 2, null), { type: 'data', timestamp: 0, messageStreamId: 1, values: ['onMetaData', { width: 1 }] }],
    ];
    for (const messages of cases) {
      // An empty budget: had the body been assembled before the refusal, the error would be ingest-budget.
      const session = new PublishSession({ randomBytes: filler, account: new IngestBudget(0).account() });
      const outputs = session.feed(Buffer.concat([c0c1, c2, chunkMessages(messages)]));
      expect(events(outputs)).toEqual([{ type: 'error', error: expect.objectContaining({ code: 'media-before-publish' }) }]);
      expect(session.state).toBe('failed');
      expect(session.bufferedBytes).toBe(0);
    }
  });

  it('draws held media and partial messages from its account, promotes it on accept and gives everything back on dispose', () => {
    const budget = new IngestBudget(1 << 20, 512 * 1024);
    const account = budget.account();
    const session = new PublishSession({ randomBytes: filler, account });
    session.feed(publishStream({ ...defaultScript, unpublish: false }));
    // Pending: four media bodies and the @setDataFrame message.
    expect(budget.heldBytes).toBe(300 + 20 + 20 + 5000 + 116);
    expect(budget.heldByNonPublishersBytes).toBe(budget.heldBytes);
    session.acceptPublish();
    expect(budget.heldBytes).toBe(0);
    // A frame half received is held (by allocation) as a publisher's.
    const frame = chunkMessages([video(10_000)]);
    session.feed(frame.subarray(0, 3000));
    expect(budget.heldBytes).toBeGreaterThanOrEqual(2900);
    expect(budget.heldByNonPublishersBytes).toBe(0);
    session.dispose();
    expect(budget.heldBytes).toBe(0);
  });

  it('fails when the shared budget has no room for held media', () => {
    const budget = new IngestBudget(4000);
    const session = new PublishSession({ randomBytes: filler, account: budget.account() });
    const outputs = session.feed(publishStream({ ...defaultScript, media: [{ type: 'video', delta: 0, size: 5000 }] }));
    expect(events(outputs).map((o) => (o.type === 'error' ? o.error.code : o.type))).toEqual(['publish-requested', 'ingest-budget']);
    expect(budget.heldBytes).toBe(0);
  });
});

describe('PublishSession properties', () => {
  it('gives the same replies and events for any split of a valid stream', () => {
    fc.assert(
      fc.property(publishScriptArb, fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { maxLength: 20 }), (script, splits) => {
        const bytes = publishStream(script);
        const whole = drive(newSession(), [bytes]).outputs;
        const split = drive(newSession(), splitAt(bytes, splits)).outputs;
        // Acknowledgements depend on where the input was cut; everything else must not.
        const replies = (o: SessionOutput[]) => serverMessages(o).filter((m) => m.type !== 'acknowledgement');
        expect(events(split)).toEqual(events(whole));
        expect(replies(split)).toEqual(replies(whole));
      }),
      { numRuns: 150 },
    );
  });

  it('never throws on random or mutated input, fails only with RtmpProtocolError, and stays within its buffer bound', () => {
    fc.assert(
      fc.property(fc.oneof(mutatedFeedArb, randomFeedArb), ({ pieces, accept }) => {
        const session = new PublishSession({ limits: fuzzLimits });
        const { outputs, maxBuffered } = drive(session, pieces, () => accept);
        expect(maxBuffered).toBeLessThanOrEqual(fuzzBufferBound);
        const errors = outputs.filter((o) => o.type === 'error');
        expect(errors.length).toBeLessThanOrEqual(1);
        for (const e of errors) expect(e.error).toBeInstanceOf(RtmpProtocolError);
        if (errors.length === 1) expect(outputs.at(-1)).toBe(errors[0]);
      }),
      { numRuns: 400 },
    );
  });
});
