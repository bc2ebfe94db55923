// A full media disk with the real stack: MEDIA_DIR on a 20 MiB tmpfs, a real ffmpeg publishing until it fills. The
// live broadcast ends with the reason (publish_done, not ERROR), a new publish is refused as 'origin disk full', the
// origin keeps answering HTTP and never exits, and publishing works again once space is freed — without a restart.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { Publishers } from '../support/encoder.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;

let stack: Stack | undefined;
let mediaDir = '';
let mounted = false;
/** Why this file cannot run here, if it cannot (mounting a tmpfs needs root). */
let skipReason: string | null = null;
const publishers = new Publishers({ size: '640x360' });

beforeAll(async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'disk-full-'));
  mediaDir = path.join(dir, 'media');
  await mkdir(mediaDir, { recursive: true });
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mediaDir]);
    mounted = true;
  } catch (error) {
    skipReason = `cannot mount a tmpfs here (needs root): ${String(error)}`;
    return;
  }
  stack = await startStack({
    capacity: 2,
    originEnv: { MEDIA_DIR: mediaDir, MEDIA_MIN_FREE_MB: '6', MEDIA_FLOOR_MB: '2' },
  });
});

afterAll(async () => {
  await publishers.stopAll();
  await stack?.stop();
  if (mounted) await run('umount', ['-l', mediaDir]).catch(() => undefined);
  if (mediaDir) await rm(path.dirname(mediaDir), { recursive: true, force: true });
});

const freeMiB = async () => {
  const s = await statfs(mediaDir);
  return (Number(s.bavail) * Number(s.bsize)) / MiB;
};

describe('a full media disk', () => {
  it('ends the live broadcast cleanly, refuses new ones with the reason, keeps serving, and recovers when space returns', async (context) => {
    if (skipReason) return context.skip(skipReason);
    const s = stack!;
    // Leave ~9 MiB: enough to be admitted (6 MiB minimum), little enough for the encoder to fill in seconds.
    const filler = path.join(mediaDir, 'filler.bin');
    await writeFile(filler, Buffer.alloc(Math.max(0, Math.floor((await freeMiB()) - 9)) * MiB, 1));

    const stream = await s.createStream({ reconnectWindow: 5 });
    const url = `rtmp://127.0.0.1:${s.ports.rtmp}/live/${stream.streamKey}`;
    const encoder = publishers.start(url, { videoBitrate: '4M' });
    await s.waitForStatus(stream.streamId, 'STREAMING', 30_000);

    // The disk fills; the origin ends the broadcast itself: the encoder is disconnected and the stream waits for it.
    await s.waitForStatus(stream.streamId, 'DISCONNECTED', 60_000);
    expect(await freeMiB()).toBeLessThan(6);
    const lost = (await s.getStream(stream.streamId)).activities.find((a: any) => a.event === 'ON_PUBLISH_DONE');
    expect(JSON.stringify(lost)).toMatch(/origin disk full/);
    expect(await Promise.race([encoder.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 10_000))])).toBe('exited');
    expect((await s.getStream(stream.streamId)).status).not.toBe('ERROR');

    // A new publish is refused with the reason, and the origin goes on answering HTTP.
    const refused = publishers.start(url, { seconds: 5 });
    const code = await Promise.race([refused.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 15_000))]);
    expect(code).not.toBe(0);
    expect(refused.output()).toMatch(/origin disk full/);
    const health = await (await fetch(`${s.originAdminUrl}/healthz`)).json();
    expect(health).toMatchObject({ status: 'ok', disk: { state: expect.stringMatching(/low|full/) } });
    expect(s.originLogs.some((l) => l.includes('"event":"publish_refused"') && l.includes('origin_disk_full'))).toBe(true);
    expect(await s.originMetric('riverhead_media_free_bytes')).toBeLessThan(6 * MiB);
    expect(await s.originMetric('riverhead_publish_refusals_total', { reason: 'origin_disk_full' })).toBeGreaterThanOrEqual(1);

    // Space comes back: the same origin process takes the stream again.
    await rm(filler);
    await waitFor('the origin to see free space', async () => (((await (await fetch(`${s.originAdminUrl}/healthz`)).json()) as { disk: { state: string } }).disk.state === 'ok' ? true : undefined), 10_000);
    publishers.start(url, { videoBitrate: '300k' });
    await s.waitForStatus(stream.streamId, 'STREAMING', 30_000);
    expect(s.originLogs.filter((l) => l.includes('"event":"origin_ready"'))).toHaveLength(1);
    expect(s.originLogs.some((l) => /origin_failed|uncaught_exception/.test(l))).toBe(false);
  });
});
