// Simulcast end to end (issue 14): one broadcast relayed to real RTMP servers — nginx with Debian's RTMP module as the
// "YouTube" stand-in, and our own origin (another stream's ingest) as a second target. Each target's stream is read
// back (codecs, the chosen rendition's size, duration), nginx is stopped for 10 s mid-broadcast (that target goes
// retrying then live, the other never blinks), a target is added and one removed while live, a new key restarts only
// its target, the encoder drops for
// 5 s inside the reconnect window without any remote stream ending, and a refused key ends up failed with its reason.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { ffprobe, publish, type Publisher } from '../support/encoder.ts';
import { startNginxRtmp, type NginxRtmp } from '../support/nginx-rtmp.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

let stack: Stack;
let nginx: NginxRtmp;
let nginxDir: string;
let encoder: Publisher | null = null;
let hooks: WebhookReceiver;

beforeAll(async () => {
  nginxDir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-nginx-'));
  nginx = await startNginxRtmp(nginxDir, { refuse: ['badkey'] });
  stack = await startStack({ edgeVars: { WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true', WEBHOOK_RETRY_BASE_SECONDS: '1' } });
  hooks = await startWebhookReceiver();
  const endpoint = await stack.api('POST', '/webhooks', { url: hooks.url, description: 'simulcast' });
  expect(endpoint.status).toBe(201);
  hooks.secret = endpoint.body.data.secret;
});
afterAll(async () => {
  if (process.env.DESTINATIONS_E2E_LOG) await writeFile(process.env.DESTINATIONS_E2E_LOG, `${stack?.originLogs.join('\n')}\n---nginx---\n${nginx?.output()}`).catch(() => undefined);
  await encoder?.kill();
  await stack?.stop();
  await nginx?.close();
  await hooks?.close();
  if (nginxDir && !process.env.DESTINATIONS_E2E_LOG) await rm(nginxDir, { recursive: true, force: true });
});

interface StatusLine {
  at: number;
  destinationId: string;
  revision: number;
  status: string;
  error: string | null;
  bytesSent: number;
  reconnects: number;
}

/** The destination_status events the origin reported, as its log shows them. */
function statuses(destinationId: string): StatusLine[] {
  const out: StatusLine[] = [];
  for (const line of stack.originLogs) {
    if (!line.includes('"destination_status"')) continue;
    const entry = JSON.parse(line);
    if (entry.event === 'destination_status' && entry.destinationId === destinationId) out.push({ ...entry, at: Date.parse(entry.time) });
  }
  return out;
}

const waitStatus = (destinationId: string, status: string, since = 0, timeoutMs = 30_000) =>
  waitFor(`${destinationId} to be ${status}`, async () => statuses(destinationId).find((s) => s.status === status && s.at >= since), timeoutMs);

/** When the relay run that went live at `liveAt` started its ffmpeg (the origin's destination_relay_started). */
function runStart(destinationId: string, liveAt: number): number {
  const starts = stack.originLogs
    .filter((l) => l.includes('"destination_relay_started"') && l.includes(destinationId))
    .map((l) => Date.parse(JSON.parse(l).time))
    .filter((at) => at <= liveAt);
  return starts.at(-1)!;
}

const publishes = (streamId: string) => stack.originLogs.filter((l) => l.includes('"publish_accepted"') && l.includes(streamId)).length;

/** A destination through the API (engineer F's /v1/live/streams/{id}/destinations), its key write-only. */
async function addDestination(streamId: string, body: Record<string, unknown>): Promise<string> {
  const response = await stack.api('POST', `/live/streams/${streamId}/destinations`, { platform: 'rtmp', ...body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  expect(JSON.stringify(response.body)).not.toContain(String(body.streamKey));
  return response.body.data.destinationId as string;
}

/** nginx's own view of each publish of `name`: from its on_publish to its on_publish_done (NaN if nginx was killed). */
function publishSpans(name: string): { from: number; to: number }[] {
  const spans: { from: number; to: number }[] = [];
  for (const n of nginx.notifications.filter((x) => x.name === name)) {
    if (n.call === 'publish') spans.push({ from: n.at, to: Number.NaN });
    else if (spans.length && Number.isNaN(spans.at(-1)!.to)) spans.at(-1)!.to = n.at;
  }
  return spans;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const duration = async (file: string) => Number((await ffprobe(file)).format.duration);

describe('simulcast to real RTMP servers', () => {
  it('relays a broadcast to nginx-rtmp and to our own origin through an outage, changes and an encoder drop', async () => {
    const broadcast = await stack.createStream({ reconnectWindow: 20 });
    const second = await stack.createStream();
    const ingest = `rtmp://127.0.0.1:${stack.ports.rtmp}/live`;
    const server = `rtmp://127.0.0.1:${nginx.port}/live`;
    // 854x480 gives the ladder source + 360p: "YouTube" gets the 360p rung, our origin the source.
    const youtube = await addDestination(broadcast.streamId, { name: 'YouTube stand-in', url: server, streamKey: 'yt-key-1', rendition: '360p' });
    const ours = await addDestination(broadcast.streamId, { name: 'our origin', url: ingest, streamKey: second.streamKey });
    const refused = await addDestination(broadcast.streamId, { name: 'bad key', url: server, streamKey: 'badkey' });
    encoder = publish(`${ingest}/${broadcast.streamKey}`, { size: '854x480', rate: 24 });
    await waitFor('the origin to take the broadcast', async () => (publishes(broadcast.streamId) === 1 ? true : undefined), 20_000);

    // Authorize handed the three targets to the origin: they start with the broadcast.
    await waitStatus(youtube, 'live');
    const oursLive = await waitStatus(ours, 'live');
    expect(publishes(second.streamId)).toBe(1);

    // A refused key (nginx's on_publish says 403) is retried a few times, then failed with the reason; no key shown.
    const failed = await waitStatus(refused, 'failed', 0, 30_000);
    expect(failed.error).toMatch(/closed the connection right after the publish/);
    expect(failed.error).not.toContain('badkey');

    // "YouTube" goes away for 10 s: its relay retries with backoff and comes back live; our origin's never blinks.
    await sleep(3000);
    const outageAt = Date.now();
    await nginx.stop();
    const retrying = await waitStatus(youtube, 'retrying', outageAt, 15_000);
    expect(retrying.error).toBeTruthy();
    await sleep(10_000 - (Date.now() - outageAt));
    await nginx.start();
    const backAt = Date.now();
    // (A live relay also repeats 'live' every 10 s with its counters: the one that counts comes after the retrying.)
    const again = await waitStatus(youtube, 'live', retrying.at + 1, 25_000);
    expect(again.at - backAt).toBeLessThan(15_000);
    expect(statuses(ours).filter((s) => s.at >= oursLive.at).map((s) => s.status)).toEqual(expect.not.arrayContaining(['retrying', 'failed', 'connecting']));
    expect(publishes(second.streamId)).toBe(1);

    // While live: a third destination is added, our origin deleted.
    const changedAt = Date.now();
    const third = await addDestination(broadcast.streamId, { name: 'third', url: server, streamKey: 'third-key-3' });
    expect((await stack.api('DELETE', `/live/streams/${broadcast.streamId}/destinations/${ours}`)).status).toBeLessThan(300);
    const thirdLive = await waitStatus(third, 'live', changedAt, 15_000);
    expect(thirdLive.at - changedAt).toBeLessThan(10_000);
    const oursStopped = await waitStatus(ours, 'stopped', changedAt, 10_000);

    // A new key restarts only that destination (its revision goes up); "YouTube" carries on untouched.
    await sleep(2000);
    const patchedAt = Date.now();
    expect((await stack.api('PATCH', `/live/streams/${broadcast.streamId}/destinations/${third}`, { streamKey: 'third-key-4' })).status).toBe(200);
    const rekeyed = await waitFor('the third destination live on its new key', async () => statuses(third).find((s) => s.at >= patchedAt && s.status === 'live' && s.revision > thirdLive.revision), 15_000);
    expect(rekeyed.at - patchedAt).toBeLessThan(10_000);
    expect(statuses(youtube).filter((s) => s.at >= patchedAt && s.status !== 'live')).toEqual([]);
    await sleep(2000);

    // The encoder drops for 5 s inside the reconnect window: no remote stream ends, no relay reconnects.
    const endsBefore = nginx.notifications.filter((n) => n.call === 'publish_done').length;
    const dropAt = Date.now();
    await encoder.kill();
    await sleep(5000);
    encoder = publish(`${ingest}/${broadcast.streamKey}`, { size: '854x480', rate: 24 });
    await waitFor('the encoder to resume the session', async () => (publishes(broadcast.streamId) === 2 ? true : undefined), 15_000);
    await sleep(6000);
    expect(nginx.notifications.filter((n) => n.call === 'publish_done').length).toBe(endsBefore);
    for (const id of [youtube, third]) expect(statuses(id).filter((s) => s.at >= dropAt && s.status !== 'live')).toEqual([]);

    // The session ends: every relay unpublishes.
    const endAt = Date.now();
    expect((await stack.api('POST', `/live/streams/${broadcast.streamId}/complete`)).status).toBeLessThan(300);
    await waitStatus(youtube, 'stopped', endAt, 20_000);
    await waitStatus(third, 'stopped', endAt, 20_000);
    await waitFor('nginx to hear both publishes end', async () => (nginx.notifications.filter((n) => n.call === 'publish_done' && n.name !== 'badkey').length >= endsBefore + 2 ? true : undefined), 10_000);

    // Read back: "YouTube" has two recordings (before and after its outage) of the 360p rung with sound.
    const yt = await nginx.recordings('yt-key-1');
    expect(yt).toHaveLength(2);
    const after = await ffprobe(yt[1]!);
    expect(after.streams.find((s: any) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 640, height: 360 });
    expect(after.streams.find((s: any) => s.codec_type === 'audio')?.codec_name).toBe('aac');
    // The sound goes on through the encoder's drop: silence, not a hole in the audio track.
    const audioTimes = ((await ffprobe(yt[1]!, ['-show_packets', '-select_streams', 'a'])).packets as any[]).map((p) => Number(p.pts_time));
    const audioHoles = audioTimes.slice(1).map((t, i) => t - audioTimes[i]!);
    expect(audioTimes.at(-1)! - audioTimes[0]!).toBeGreaterThan(10);
    expect(Math.max(...audioHoles)).toBeLessThan(0.5);
    // As long as that publish lasted, the encoder's 5 s drop included (filled with the last keyframe in real time).
    // Relayed media is paced by the wall clock (a rung read a segment at a time is not sent ahead of it), so the
    // recording can hold no more than the time from its run's start (its first keyframe came after) to nginx's
    // on_publish_done; the media from that keyframe to the publish (ffmpeg probing its input, then connecting) is in it,
    // so it holds about nginx's on_publish..on_publish_done or more, less what the rung had not yet written at the end.
    const ytPublish = publishSpans('yt-key-1').at(-1)!;
    const published = (ytPublish.to - ytPublish.from) / 1000;
    const connected = (ytPublish.to - runStart(youtube, again.at)) / 1000;
    expect(await duration(yt[1]!)).toBeGreaterThan(published - 2.5);
    expect(await duration(yt[1]!)).toBeLessThan(connected + 1);
    // The third: one recording per key, the encoder's own 854x480, as long as each key was relayed.
    expect(await nginx.recordings('third-key-3')).toHaveLength(1);
    const thirdFiles = await nginx.recordings('third-key-4');
    expect(thirdFiles).toHaveLength(1);
    expect((await ffprobe(thirdFiles[0]!)).streams.find((s: any) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 854, height: 480 });
    const thirdPublish = publishSpans('third-key-4').at(-1)!;
    const thirdPublished = (thirdPublish.to - thirdPublish.from) / 1000;
    const thirdConnected = (thirdPublish.to - runStart(third, rekeyed.at)) / 1000;
    expect(await duration(thirdFiles[0]!)).toBeGreaterThan(thirdPublished - 2.5);
    expect(await duration(thirdFiles[0]!)).toBeLessThan(thirdConnected + 1);

    // Our own origin received the source as a live stream of its own, for as long as it was a target.
    const secondSession = JSON.parse(stack.originLogs.find((l) => l.includes('"publish_accepted"') && l.includes(second.streamId))!).sessionId as string;
    const folder = path.join(stack.mediaDir, second.streamId, secondSession, 'source');
    const playlist = await readFile(path.join(folder, 'index.m3u8'), 'utf8');
    const received = [...playlist.matchAll(/#EXTINF:([\d.]+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(received).toBeGreaterThan((oursStopped.at - oursLive.at) / 1000 - 6);
    expect(received).toBeLessThan((oursStopped.at - oursLive.at) / 1000 + 6);
    const firstSegment = /^[0-9a-f]{6}-\d+\.ts$/m.exec(playlist)![0];
    expect((await ffprobe(path.join(folder, firstSegment))).streams.find((s: any) => s.codec_type === 'video')).toMatchObject({ codec_name: 'h264', width: 854, height: 480 });

    // The API keeps each destination's last error after the broadcast (its status is idle again), and the webhooks told the story, signed.
    const listed = (await stack.api('GET', `/live/streams/${broadcast.streamId}/destinations`)).body.data as any[];
    expect(listed.find((d) => d.destinationId === refused)).toMatchObject({ lastError: expect.stringContaining('right after the publish') });
    expect(JSON.stringify(listed)).not.toMatch(/badkey|yt-key-1|third-key-[34]/);
    const webhooks = () => hooks.received.filter((r) => r.body?.streamId === broadcast.streamId && String(r.body?.type).includes('.destination.'));
    const said = (type: string, id: string) => webhooks().some((r) => r.body.type === `video.live_stream.destination.${type}` && r.body.subject?.id === id);
    await waitFor('the destination webhooks', async () => (said('connected', youtube) && said('connected', ours) && said('connected', third) && said('failed', refused) && said('disconnected', youtube) && said('disconnected', ours) ? true : undefined), 20_000);
    expect(webhooks().every((r) => r.verified)).toBe(true);
    console.log(JSON.stringify({
      simulcastFigures: {
        backLiveAfterOutageMs: again.at - backAt,
        addedLiveAfterMs: thirdLive.at - changedAt,
        rekeyedLiveAfterMs: rekeyed.at - patchedAt,
        youtubeSeconds: { published, connected, recorded: await duration(yt[1]!) },
        thirdSeconds: { published: thirdPublished, connected: thirdConnected, recorded: await duration(thirdFiles[0]!) },
        oursSeconds: { connected: (oursStopped.at - oursLive.at) / 1000, received },
      },
    }));
    // YouTube: connected, dropped in the outage, connected again, disconnected at the end.
    expect(webhooks().filter((r) => r.body.subject?.id === youtube).map((r) => r.body.type.split('.').pop())).toEqual(['connected', 'disconnected', 'connected', 'disconnected']);
  });
});
