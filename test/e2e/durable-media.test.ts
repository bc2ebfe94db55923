// Durable media on the one-origin stack: every segment the origin lists is in R2 within about a second; an origin killed
// with its whole media folder comes back, the encoder reconnects within the window, and the session goes on from R2 as
// the same session (sequence continued, one EXT-X-DISCONTINUITY, new segment names, every earlier segment still
// stored); ending the session closes the durable playlists with ENDLIST and frees the origin's folder.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { ReconnectingPublisher } from '../support/encoder.ts';
import { durableReader } from '../support/durable-media.ts';
import { parseMediaPlaylist } from '../../origin/pipeline/playlists.ts';
import { SEGMENT_NAME } from '../../shared/durable-media.ts';

let stack: Stack;
let encoder: ReconnectingPublisher | null = null;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await encoder?.stop();
  await stack?.stop();
});

const legOf = (uri: string) => SEGMENT_NAME.exec(uri)?.[1];

describe('durable media', () => {
  it('stores every listed segment within about a second and resumes a session from R2 after the origin lost its disk', async () => {
    const stream = await stack.createStream({ reconnectWindow: 60 });
    // 854x480: a two-rendition ladder (source + 360p) at little CPU.
    encoder = new ReconnectingPublisher(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`, { size: '854x480' }, 1000);
    await stack.waitForStatus(stream.streamId, 'STREAMING');
    const sessionId: string = (await stack.getStream(stream.streamId)).currentSession.id;
    const dir = path.join(stack.mediaDir, stream.streamId, sessionId);
    // Keys below are relative to the session's prefix, live/{streamId}/{sessionId}/.
    const prefix = '';
    const r2 = await durableReader(stack, stream.streamId, sessionId);

    // 1. Durable within about a second: every segment ffmpeg closed more than 1.5 s ago is listed by the durable
    // playlist in R2 and stored there (sampled a few times over ~10 s of broadcast).
    await waitFor('5 source segments', async () => {
      const text = await readFile(path.join(dir, 'source', 'index.m3u8'), 'utf8').catch(() => '');
      return text && parseMediaPlaylist(text).segments.length >= 5 ? true : undefined;
    }, 40_000);
    for (let round = 0; round < 4; round++) {
      for (const rendition of ['source', '360p']) {
        const local = parseMediaPlaylist(await readFile(path.join(dir, rendition, 'index.m3u8'), 'utf8'));
        const now = Date.now();
        const closed: string[] = [];
        for (const s of local.segments) {
          const mtime = await stat(path.join(dir, rendition, s.uri)).then((x) => x.mtimeMs, () => 0);
          if (mtime && now - mtime > 1500) closed.push(s.uri);
        }
        const remote = await r2.playlist(`${prefix}${rendition}/index.m3u8`);
        const listed = new Set(remote?.segments.map((s) => s.uri));
        for (const uri of closed) expect(listed.has(uri), `${rendition}/${uri} closed > 1.5 s ago is listed in R2`).toBe(true);
        for (const uri of listed) expect(await r2.bytes(`${prefix}${rendition}/${uri}`), `${rendition}/${uri} is in R2`).not.toBeNull();
        // The origin serves its durable playlist: it lists nothing R2 does not have, storage being up.
        const served = parseMediaPlaylist(await readFile(path.join(dir, rendition, 'durable.m3u8'), 'utf8'));
        for (const s of served.segments) expect(listed.has(s.uri) || s.sequence > Math.max(-1, ...(remote?.segments.map((x) => x.sequence) ?? []))).toBe(true);
      }
      for (const name of ['master.m3u8', 'ladder.json', 'session.json']) expect(await r2.bytes(prefix + name), name).not.toBeNull();
      await new Promise((r) => setTimeout(r, 2000));
    }

    // 2. The origin dies with its disk; the encoder keeps trying; a fresh origin takes the reconnect.
    const before = (await r2.playlist(`${prefix}source/index.m3u8`))!;
    expect(before.segments.length).toBeGreaterThanOrEqual(5);
    expect(before.segments.filter((s) => s.discontinuity)).toEqual([]);
    const legsBefore = new Set(before.segments.map((s) => legOf(s.uri)));
    const lastBefore = before.segments[before.segments.length - 1]!.sequence;
    await stack.stopOrigin('SIGKILL');
    await rm(stack.mediaDir, { recursive: true, force: true });
    await stack.startOrigin();

    const after = await waitFor('the resumed session to store 3 new source segments', async () => {
      const pl = await r2.playlist(`${prefix}source/index.m3u8`);
      return pl && pl.segments.length >= before.segments.length + 3 ? pl : undefined;
    }, 60_000);
    expect((await stack.getStream(stream.streamId)).currentSession.id).toBe(sessionId);
    // The session's counters go on from the earlier leg's (restored from R2 with the timeline).
    const sessionStats = async () => (await stack.api('GET', `/live/streams/${stream.streamId}/sessions`)).body.data[0];
    await waitFor('session counters past the earlier leg', async () => ((await sessionStats()).sourceSegments > before.segments.length ? true : undefined), 20_000);
    expect(stack.originLogs.some((l) => l.includes('"durable_timeline_restored"'))).toBe(true);
    // The earlier segments are kept as they were, the sequence goes on with one discontinuity at the join.
    expect(after.segments.slice(0, before.segments.length).map((s) => s.uri)).toEqual(before.segments.map((s) => s.uri));
    expect(after.mediaSequence).toBe(before.mediaSequence);
    const joined = after.segments.slice(before.segments.length);
    expect(joined[0]!.sequence).toBe(lastBefore + 1);
    expect(after.segments.filter((s) => s.discontinuity).map((s) => s.sequence)).toEqual([lastBefore + 1]);
    for (const s of joined) {
      expect(legOf(s.uri), s.uri).toBeDefined();
      expect(legsBefore.has(legOf(s.uri)), `${s.uri} has a new leg tag`).toBe(false);
      expect(Number(SEGMENT_NAME.exec(s.uri)![2])).toBe(s.sequence);
    }
    for (const s of before.segments) expect(await r2.bytes(`${prefix}source/${s.uri}`), `${s.uri} still stored`).not.toBeNull();
    const r360 = (await r2.playlist(`${prefix}360p/index.m3u8`))!;
    expect(r360.segments.filter((s) => s.discontinuity)).toHaveLength(1);

    // 3. The broadcast ends here: the durable playlists get ENDLIST, the edge hears media_durable final, the folder goes.
    expect((await stack.api('POST', `/live/streams/${stream.streamId}/complete`)).status).toBe(200);
    await encoder.stop();
    encoder = null;
    const final = await waitFor('ENDLIST in R2', async () => {
      const pl = await r2.playlist(`${prefix}source/index.m3u8`);
      return pl?.endList ? pl : undefined;
    }, 40_000);
    expect(final.segments.length).toBeGreaterThanOrEqual(after.segments.length);
    for (const s of final.segments.slice(-3)) expect(await r2.bytes(`${prefix}source/${s.uri}`)).not.toBeNull();
    await waitFor('the session folder deleted', async () => (existsSync(dir) ? undefined : true), 20_000);
    expect(stack.originLogs.some((l) => l.includes('"durable_final"'))).toBe(true);

    // The figure: segment closed → listed by the durable playlist in R2, as the origin measured it.
    const summaries = stack.originLogs.filter((l) => l.includes('"durable_latency"') || l.includes('"durable_flushed"') || l.includes('"durable_final"'));
    console.log(`durable media latency: ${summaries.map((l) => JSON.stringify((JSON.parse(l) as { latency?: unknown }).latency)).join(' | ')}`);
  });
});
