// Live playlist windows through the edge (issue 12): a stream's default sliding window lists only the last ~60 s of a
// long broadcast, its MEDIA-SEQUENCE moving on, while a stream created with playlistWindow 'dvr' lists the session
// from its first segment. "A few minutes" of media in well under two minutes of wall time: the encoders send at 4×
// real time (ffmpeg -readrate 4, as the recording-ready bench does) a 640x360 source, which the origin copies (no rung
// below 360 lines to encode), so it takes the media as fast as it comes. The windows count EXTINF seconds, not wall time.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { fetchSegment, playbackAnswer, type PlaybackAnswer } from '../support/live-events.ts';

const READRATE = 4;
/** Media the DVR stream must hold before the windows are judged: three minutes. */
const BROADCAST_SECONDS = 180;

let stack: Stack;
const encoders: ChildProcess[] = [];

/** A 640x360 test pattern with a tone, sent at READRATE× real time (2 s GOP, like the e2e encoder). */
function publishFast(url: string): ChildProcess {
  const child = spawn('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-nostdin',
    '-readrate', String(READRATE), '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
    '-readrate', String(READRATE), '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '600',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', '-keyint_min', '60', '-pix_fmt', 'yuv420p', '-b:v', '600k',
    '-c:a', 'aac', '-b:a', '64k',
    '-f', 'flv', url,
  ], { stdio: ['ignore', 'ignore', 'ignore'] });
  encoders.push(child);
  return child;
}

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  for (const child of encoders) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await stack?.stop();
});

const playing = (answer: PlaybackAnswer) => {
  if (!answer.ok) throw new Error(`not playing: ${JSON.stringify(answer)}`);
  return answer;
};

describe('live playlist windows: sliding by default, DVR on request', () => {
  let sliding: any;
  let dvr: any;

  it('playlistWindow is a stream setting: sliding by default, dvr on request, anything else a 400 naming it', async () => {
    sliding = await stack.createStream();
    dvr = await stack.createStream({ playlistWindow: 'dvr' });
    expect(sliding.playlistWindow).toBe('sliding');
    expect(dvr.playlistWindow).toBe('dvr');
    const bad = await stack.api('POST', '/live/streams', { playlistWindow: 'forever' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].field).toBe('playlistWindow');
  });

  it(`after ${BROADCAST_SECONDS} s of media the sliding playlist covers ~60 s with MEDIA-SEQUENCE advanced; the DVR one lists from the first segment`, async () => {
    const began = Date.now();
    publishFast(sliding.ingest.rtmp.url);
    publishFast(dvr.ingest.rtmp.url);
    await Promise.all([stack.waitForStatus(sliding.streamId, 'STREAMING'), stack.waitForStatus(dvr.streamId, 'STREAMING')]);

    // Both have sent the three minutes: the DVR stream lists them, the sliding one's last segment is as far along.
    const [slidingNow, dvrNow] = await waitFor(
      `${BROADCAST_SECONDS} s of media on both streams`,
      async () => {
        const [s, d] = await Promise.all([playbackAnswer(stack, sliding.playbackIds[0].id), playbackAnswer(stack, dvr.playbackIds[0].id)]);
        if (!s.ok || !d.ok || d.media.duration < BROADCAST_SECONDS) return undefined;
        const lastSliding = s.media.segments.at(-1)?.sequence ?? 0;
        return (lastSliding + 1) * 2 >= BROADCAST_SECONDS ? ([s, d] as const) : undefined;
      },
      100_000,
    );
    const wallSeconds = (Date.now() - began) / 1000;

    const slidingPlay = playing(slidingNow);
    const dvrPlay = playing(dvrNow);
    const s = slidingPlay.media;
    const d = dvrPlay.media;
    console.log(JSON.stringify({
      figure: 'playlist_windows',
      wallSeconds,
      sliding: { mediaSequence: s.mediaSequence, segments: s.segments.length, seconds: s.duration, last: s.segments.at(-1)?.sequence },
      dvr: { mediaSequence: d.mediaSequence, segments: d.segments.length, seconds: d.duration },
    }));

    // Sliding: about the last minute (60 s, whole segments), the rest slid out of it.
    expect(s.duration).toBeGreaterThanOrEqual(55);
    expect(s.duration).toBeLessThanOrEqual(70);
    expect(s.mediaSequence).toBeGreaterThan(0);
    expect(s.segments[0]!.sequence).toBe(s.mediaSequence);
    expect(s.mediaSequence).toBeGreaterThanOrEqual((s.segments.at(-1)!.sequence + 1) - 35);
    expect(s.playlistType, 'a sliding window is not an EVENT playlist').not.toBe('EVENT');
    expect(s.endList).toBe(false);
    expect(await fetchSegment(stack, slidingPlay.mediaUrl, s.segments[0]!)).toMatchObject({ status: 200 });

    // DVR: the whole session, from its first segment.
    expect(d.mediaSequence).toBe(0);
    expect(d.segments[0]!.sequence).toBe(0);
    expect(d.duration).toBeGreaterThanOrEqual(BROADCAST_SECONDS);
    expect(d.endList).toBe(false);
    expect(await fetchSegment(stack, dvrPlay.mediaUrl, d.segments[0]!)).toMatchObject({ status: 200 });

    // A few seconds on, the sliding window has moved on and is still about a minute long.
    const later = await waitFor('the sliding window to move on', async () => {
      const answer = await playbackAnswer(stack, sliding.playbackIds[0].id);
      return answer.ok && answer.media.mediaSequence > s.mediaSequence ? answer.media : undefined;
    }, 10_000);
    expect(later.duration).toBeGreaterThanOrEqual(55);
    expect(later.duration).toBeLessThanOrEqual(70);
  });

  it('PATCH playlistWindow to dvr while live: the same stream now lists from its first segment', async () => {
    const patched = await stack.api('PATCH', `/live/streams/${sliding.streamId}`, { playlistWindow: 'dvr' });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body.data.playlistWindow).toBe('dvr');
    // Playback answers are cached for up to 2 s (LIVE_TTL_MS), playlists for 1 s.
    const whole = await waitFor('the whole session on the patched stream', async () => {
      const answer = await playbackAnswer(stack, sliding.playbackIds[0].id);
      return answer.ok && answer.media.mediaSequence === 0 ? answer.media : undefined;
    }, 10_000);
    expect(whole.duration).toBeGreaterThanOrEqual(BROADCAST_SECONDS);
  });
});
