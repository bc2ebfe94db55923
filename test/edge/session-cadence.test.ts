// The encoder's frame rate and keyframe interval in the session health: the origin's stats carry them, the
// StreamObject keeps the latest, the sessions API returns them (null until measured, and from origins that predate
// them); a value out of range makes the stats event invalid.
import { describe, it, expect, beforeAll } from 'vitest';
import { api, authorize, createStream, createWorkspace, json, originEvent, sendEvents, type Workspace } from './helpers.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('session-cadence');
});

const stats = (extra: Record<string, unknown> = {}) => ({
  sourceSegments: 5, transcodedSegments: 10, sourceSegmentsDuration: 10, transcodedSegmentsDuration: 20,
  sourceBytes: 100_000, transcodedBytes: 200_000, ingestRate: 50_000, outgoingRate: 100_000, isHealthy: true, issues: null,
  ...extra,
});

async function broadcast() {
  const stream = await createStream(ws);
  const grant = await json(await authorize(stream.streamKey));
  return { streamId: stream.streamId as string, sessionId: grant.sessionId as string };
}

const sessionOf = async (streamId: string) => (await json(await api(ws, 'GET', `/live/streams/${streamId}/sessions`))).data[0];

describe('session frame rate and keyframe interval', () => {
  it('stored from the latest stats and returned by the sessions API', async () => {
    const { streamId, sessionId } = await broadcast();
    expect(await sessionOf(streamId)).toMatchObject({ id: sessionId, frameRate: null, keyframeInterval: null });

    let answer = await sendEvents([originEvent(streamId, sessionId, 'stats', stats({ frameRate: 29.97, keyframeInterval: 2.002 }))]);
    expect((await json(answer)).results).toMatchObject([{ outcome: 'applied' }]);
    expect(await sessionOf(streamId)).toMatchObject({ frameRate: 29.97, keyframeInterval: 2.002, isHealthy: true });

    // The next report replaces them (an encoder that changed its settings on reconnect).
    answer = await sendEvents([originEvent(streamId, sessionId, 'stats', stats({ frameRate: 60, keyframeInterval: 1 }))]);
    expect((await json(answer)).results).toMatchObject([{ outcome: 'applied' }]);
    expect(await sessionOf(streamId)).toMatchObject({ frameRate: 60, keyframeInterval: 1 });
  });

  it('an origin that does not report them (or not yet) leaves them null', async () => {
    const { streamId, sessionId } = await broadcast();
    await sendEvents([originEvent(streamId, sessionId, 'stats', stats())]);
    expect(await sessionOf(streamId)).toMatchObject({ frameRate: null, keyframeInterval: null, sourceSegments: 5 });
    await sendEvents([originEvent(streamId, sessionId, 'stats', stats({ frameRate: null, keyframeInterval: null }))]);
    expect(await sessionOf(streamId)).toMatchObject({ frameRate: null, keyframeInterval: null });
  });

  it('a negative keyframe interval is refused with the event, the stored values kept', async () => {
    const { streamId, sessionId } = await broadcast();
    await sendEvents([originEvent(streamId, sessionId, 'stats', stats({ frameRate: 30, keyframeInterval: 1 }))]);
    const answer = await sendEvents([originEvent(streamId, sessionId, 'stats', stats({ frameRate: 30, keyframeInterval: -1 }))]);
    const { results } = await json(answer);
    expect(results).toMatchObject([{ outcome: 'rejected', reason: expect.stringMatching(/^data\.keyframeInterval: /) }]);
    expect(await sessionOf(streamId)).toMatchObject({ frameRate: 30, keyframeInterval: 1 });
  });
});
