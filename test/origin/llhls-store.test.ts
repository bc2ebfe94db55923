// LowLatencyStore: the in-memory state of live low-mode sessions fed by ll_* messages, and the held requests
// (blocking playlist reloads, hinted parts) answered when media arrives, at their deadline, or when the session ends.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LowLatencyStore, type LowLatencySession } from '../../origin/llhls/low-latency-store.ts';

const bytes = (n: number, fill = 1) => new Uint8Array(n).fill(fill).buffer;

function newSession(opts: Partial<ConstructorParameters<typeof LowLatencyStore>[0]> = {}): { store: LowLatencyStore; session: LowLatencySession } {
  const store = new LowLatencyStore({ partTargetSeconds: 0.2, segmentTargetSeconds: 1, ...opts });
  const session = store.session('stream1', 'sess1', { renditions: ['720p', '360p'] });
  for (const rendition of ['720p', '360p']) session.onInit({ type: 'll_init', rendition, legTag: 'aaaaaa', bytes: bytes(10, 9), codecs: 'avc1.64001f,mp4a.40.2' });
  return { store, session };
}

const part = (session: LowLatencySession, rendition: string, msn: number, p: number, size = 100) =>
  session.onPart({ type: 'll_part', rendition, legTag: 'aaaaaa', msn, part: p, duration: 0.2, independent: p === 0, bytes: bytes(size, p + 1) });
const close = (session: LowLatencySession, rendition: string, msn: number, parts = 5) =>
  session.onSegment({ type: 'll_segment', rendition, legTag: 'aaaaaa', msn, duration: 0.2 * parts, parts, programDateTime: 1_700_000_000_000 + msn * 1000 });
/** Segments [0, n) of both renditions, 5 parts each, closed. */
function segments(session: LowLatencySession, n: number, from = 0): void {
  for (let msn = from; msn < from + n; msn++) {
    for (const r of ['720p', '360p']) {
      for (let p = 0; p < 5; p++) part(session, r, msn, p);
      close(session, r, msn);
    }
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('LowLatencyStore playlists', () => {
  it('holds a blocking reload until the part it asks for arrives, then answers the playlist with it', async () => {
    const { session } = newSession();
    segments(session, 2);
    part(session, '720p', 2, 0);
    part(session, '360p', 2, 0);
    let answered = false;
    const held = session.playlist('720p', { msn: 2, part: 1, skip: false }).then((a) => {
      answered = true;
      return a;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(false);
    expect(session.waiting).toBe(1);
    part(session, '720p', 2, 1);
    const answer = await held;
    expect(answer.status).toBe(200);
    if (answer.status !== 200) return;
    expect(answer.body).toContain('#EXT-X-PART:DURATION=0.20000,URI="aaaaaa-00002.1.m4s"\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="aaaaaa-00002.2.m4s"');
    expect(answer.body).toContain('#EXT-X-RENDITION-REPORT:URI="../360p/index.m3u8",LAST-MSN=2,LAST-PART=0');
    expect(answer.body).toContain('#EXT-X-MEDIA-SEQUENCE:0\n');
    expect(session.waiting).toBe(0);
  });

  it('answers a request for a whole segment once its ll_segment arrives, not on its parts', async () => {
    const { session } = newSession();
    segments(session, 1);
    let answered = false;
    const held = session.playlist('720p', { msn: 1, skip: false }).then((a) => ((answered = true), a));
    for (let p = 0; p < 5; p++) part(session, '720p', 1, p);
    // The next segment's first part may come before this one's ll_segment: it is held, not yet listed.
    part(session, '720p', 2, 0);
    await new Promise((r) => setTimeout(r, 10));
    expect(answered).toBe(false);
    close(session, '720p', 1);
    const answer = await held;
    expect(answer.status).toBe(200);
    if (answer.status === 200) {
      expect(answer.body).toContain('#EXTINF:1.00000,\naaaaaa-00001.m4s\n#EXT-X-PART:DURATION=0.20000,URI="aaaaaa-00002.0.m4s",INDEPENDENT=YES\n');
    }
  });

  it('answers 400 at once for a segment more than two past the last, and 503 after three target durations', async () => {
    vi.useFakeTimers();
    const { session } = newSession();
    segments(session, 3);
    expect(await session.playlist('720p', { msn: 5, skip: false })).toMatchObject({ status: 400, field: '_HLS_msn' });
    const held = session.playlist('720p', { msn: 4, skip: false });
    expect(session.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(2999);
    expect(session.waiting).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await held).toMatchObject({ status: 503 });
    expect(session.waiting).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits for the first part before answering a plain request of a session that has none yet', async () => {
    const store = new LowLatencyStore({ partTargetSeconds: 0.2, segmentTargetSeconds: 2 });
    const session = store.session('s', 'x');
    session.onInit({ type: 'll_init', rendition: '720p', legTag: 'bbbbbb', bytes: bytes(4), codecs: 'avc1.64001f' });
    const held = session.playlist('720p', { skip: false });
    session.onPart({ type: 'll_part', rendition: '720p', legTag: 'bbbbbb', msn: 7, part: 0, duration: 0.2, independent: true, bytes: bytes(4) });
    const answer = await held;
    expect(answer.status).toBe(200);
    if (answer.status === 200) expect(answer.body).toContain('#EXT-X-MEDIA-SEQUENCE:7\n');
    expect(await session.playlist('1080p', { skip: false })).toEqual({ status: 'gone' });
  });

  it('renders a delta update when asked to skip, and lists parts of the last three segments only', async () => {
    const { session } = newSession();
    segments(session, 12);
    const full = await session.playlist('720p', { skip: false });
    const delta = await session.playlist('720p', { skip: true });
    if (full.status !== 200 || delta.status !== 200) throw new Error('expected playlists');
    expect(full.body).not.toContain('EXT-X-SKIP');
    // 12 one-second segments, CAN-SKIP-UNTIL 6 s: the first 6 have 6 s or more after them.
    expect(delta.body).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=6\n');
    expect(full.body.match(/#EXT-X-PART:/g)).toHaveLength(15);
    expect(full.body).toContain('aaaaaa-00009.0.m4s');
    expect(full.body).not.toContain('aaaaaa-00008.0.m4s');
  });
});

describe('LowLatencyStore parts', () => {
  it('serves held parts, holds the hinted one until it comes, and 404s one its segment closed without', async () => {
    const { session } = newSession();
    segments(session, 1);
    part(session, '720p', 1, 0, 7);
    const held = await session.part('720p', 'aaaaaa', 1, 0);
    expect(held.status).toBe(200);
    if (held.status === 200) expect([...held.bytes]).toEqual(new Array(7).fill(1));
    const hinted = session.part('720p', 'aaaaaa', 1, 1);
    part(session, '720p', 1, 1, 3);
    const got = await hinted;
    expect(got.status).toBe(200);
    if (got.status === 200) expect(got.bytes.length).toBe(3);
    // The keyframe came early: segment 1 closes with 2 parts, and the hinted part 2 never will exist.
    const never = session.part('720p', 'aaaaaa', 1, 2);
    close(session, '720p', 1, 2);
    expect(await never).toEqual({ status: 404 });
    // Not the stream's next parts at all, or another leg's: 404 at once.
    expect(await session.part('720p', 'aaaaaa', 9, 0)).toEqual({ status: 404 });
    expect(await session.part('720p', 'aaaaaa', 2, 40)).toEqual({ status: 404 });
    expect(await session.part('720p', 'ffffff', 2, 0)).toEqual({ status: 404 });
    expect(session.waiting).toBe(0);
  });

  it('answers a hinted part that never comes with 503 after three target durations', async () => {
    vi.useFakeTimers();
    const { session } = newSession();
    segments(session, 1);
    const hinted = session.part('720p', 'aaaaaa', 1, 0);
    await vi.advanceTimersByTimeAsync(3000);
    expect(await hinted).toMatchObject({ status: 503 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps the parts of the last 4 segments only, and within its byte bound', async () => {
    const { session } = newSession({ maxPartBytesPerRendition: 2500 });
    segments(session, 10);
    for (const msn of [0, 5]) expect(await session.part('720p', 'aaaaaa', msn, 0)).toEqual({ status: 404 });
    for (const msn of [6, 7, 8, 9]) expect((await session.part('720p', 'aaaaaa', msn, 4)).status).toBe(200);
    // 5 parts of 100 bytes a segment: a 1000-byte bound keeps two segments' parts.
    const small = newSession({ maxPartBytesPerRendition: 1000 }).session;
    segments(small, 10);
    expect(await small.part('720p', 'aaaaaa', 7, 0)).toEqual({ status: 404 });
    expect((await small.part('720p', 'aaaaaa', 8, 0)).status).toBe(200);
  });
});

describe('LowLatencyStore bounds and end', () => {
  it('refuses held requests beyond its bound with 503, and frees one whose client went away', async () => {
    const { session } = newSession({ maxWaitersPerSession: 3 });
    segments(session, 1);
    const controller = new AbortController();
    const held = [0, 1, 2].map(() => session.playlist('720p', { msn: 1, part: 0, skip: false }, controller.signal));
    expect(session.waiting).toBe(3);
    expect(await session.playlist('720p', { msn: 1, part: 0, skip: false })).toMatchObject({ status: 503 });
    expect(await session.part('720p', 'aaaaaa', 1, 0)).toMatchObject({ status: 503 });
    controller.abort();
    expect(await Promise.all(held)).toEqual([{ status: 'gone' }, { status: 'gone' }, { status: 'gone' }]);
    expect(session.waiting).toBe(0);
  });

  it('end() answers every held request, clears its timers and lets go of the session', async () => {
    vi.useFakeTimers();
    const { store, session } = newSession();
    segments(session, 1);
    const a = session.playlist('720p', { msn: 1, part: 0, skip: false });
    const b = session.part('360p', 'aaaaaa', 1, 0);
    expect(vi.getTimerCount()).toBe(2);
    session.end();
    expect(await a).toEqual({ status: 'gone' });
    expect(await b).toEqual({ status: 'gone' });
    expect(vi.getTimerCount()).toBe(0);
    expect(store.find('stream1', 'sess1')).toBeUndefined();
    expect(session.init('720p', 'aaaaaa')).toBeUndefined();
    // Messages after the end change nothing.
    part(session, '720p', 1, 0);
    expect(await session.part('720p', 'aaaaaa', 1, 0)).toEqual({ status: 'gone' });
  });

  it('feed(): only ll_* events make a session; end() releases it', () => {
    const store = new LowLatencyStore({ partTargetSeconds: 0.2, segmentTargetSeconds: 2 });
    const feed = store.feed('st', 'se');
    feed.onEvent({ type: 'segment' });
    expect(store.size).toBe(0);
    feed.onEvent({ type: 'll_init', rendition: '720p', legTag: 'abcdef', bytes: bytes(3), codecs: 'avc1.64001f' } as { type: string });
    expect(store.find('st', 'se')?.init('720p', 'abcdef')?.codecs).toBe('avc1.64001f');
    feed.end();
    expect(store.size).toBe(0);
  });
});

describe('LowLatencyStore targets', () => {
  it('keeps PART-TARGET at the configured part seconds whatever the parts, and raises TARGETDURATION only for a long segment', async () => {
    const store = new LowLatencyStore({ partTargetSeconds: 0.2, segmentTargetSeconds: 2 });
    const session = store.session('st', 'se');
    const render = async () => {
      const answer = await session.playlist('720p', { skip: false });
      if (answer.status !== 200) throw new Error('expected a playlist');
      return answer.body;
    };
    session.onPart({ type: 'll_part', rendition: '720p', legTag: 'aaaaaa', msn: 0, part: 0, duration: 0.2, independent: true, bytes: bytes(1) });
    const first = await render();
    expect(first).toContain('#EXT-X-PART-INF:PART-TARGET=0.2\n');
    expect(first).toContain('PART-HOLD-BACK=0.6,');
    expect(first).toContain('#EXT-X-TARGETDURATION:2\n');
    // A part over the target (a source slower than announced) is listed as it is; the target does not follow it.
    session.onPart({ type: 'll_part', rendition: '720p', legTag: 'aaaaaa', msn: 0, part: 1, duration: 0.2333, independent: false, bytes: bytes(1) });
    session.onSegment({ type: 'll_segment', rendition: '720p', legTag: 'aaaaaa', msn: 0, duration: 2.4, parts: 2, programDateTime: 0 });
    const second = await render();
    expect(second).toContain('#EXT-X-PART-INF:PART-TARGET=0.2\n');
    expect(second).toContain('#EXT-X-TARGETDURATION:2\n');
    session.onSegment({ type: 'll_segment', rendition: '720p', legTag: 'aaaaaa', msn: 1, duration: 2.6, parts: 0, programDateTime: 2400 });
    const third = await render();
    expect(third).toContain('#EXT-X-PART-INF:PART-TARGET=0.2\n');
    expect(third).toContain('#EXT-X-TARGETDURATION:3\n');
    session.end();
  });

  it('waits rather than refuses a blocking request made before the run has any part (a resumed session)', async () => {
    const store = new LowLatencyStore({ partTargetSeconds: 0.2, segmentTargetSeconds: 2 });
    const session = store.session('s', 'resumed', { renditions: ['720p'] });
    const held = session.playlist('720p', { msn: 500, part: 0, skip: false });
    session.onPart({ type: 'll_part', rendition: '720p', legTag: 'dddddd', msn: 500, part: 0, duration: 0.2, independent: true, bytes: bytes(1) });
    expect((await held).status).toBe(200);
    session.end();
  });
});
