// A publish is admitted or refused on the media disk's state at that moment, not on the guard's last periodic measure:
// right after the disk fills a publish is refused, and right after space comes back it gets past the disk check (here
// on to the edge, which is unreachable in this test, so it ends as edge_unavailable). A real small tmpfs (mount needs
// root; skipped with the reason otherwise), the real guard with a periodic interval far longer than the test.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskGuard } from '../../../origin/disk-guard.ts';
import { EdgeClient } from '../../../origin/edge-client.ts';
import { EventOutbox } from '../../../origin/event-outbox.ts';
import { LiveIngest } from '../../../origin/ingest/live-ingest.ts';
import { createMetrics } from '../../../origin/metrics.ts';
import { TranscodePool } from '../../../origin/pipeline/transcode-pool.ts';

const run = promisify(execFile);
const MiB = 1024 * 1024;

let tmp = '';
let mediaDir = '';
let skipReason: string | null = null;
let pool: TranscodePool;
let outbox: EventOutbox;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'disk-admission-'));
  mediaDir = path.join(tmp, 'media');
  await mkdir(mediaDir);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mediaDir]);
  } catch (error) {
    skipReason = `cannot mount a tmpfs here (needs root): ${String(error)}`;
  }
  pool = new TranscodePool({ capacity: 1, warmThreads: 0 });
});

afterAll(async () => {
  outbox?.close();
  await pool?.close();
  if (!skipReason && mediaDir) await run('umount', ['-l', mediaDir]).catch(() => undefined);
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('publish admission on the media disk', () => {
  it('refuses a publish the moment the disk is full and admits one the moment space is back', async (context) => {
    if (skipReason) return context.skip(skipReason);
    // The edge is not there: an admitted publish stops at the edge's verdict, after the disk check.
    const edge = new EdgeClient('http://127.0.0.1:9', { originId: 'origin-test', secret: 'test-origin-secret-0123456789abcdef' }, 500);
    outbox = await EventOutbox.open(path.join(tmp, 'outbox'), edge);
    const disk = new DiskGuard({ dir: mediaDir, limits: { minFreeBytes: 4 * MiB, floorBytes: 1 * MiB }, intervalMs: 600_000 });
    await disk.start();
    const ingest = new LiveIngest({
      originId: 'test-origin',
      publicUrl: 'http://127.0.0.1:9',
      mediaDir,
      statsIntervalMs: 1000,
      edge,
      outbox,
      pool,
      metrics: createMetrics({ liveStreams: () => 0, outboxDepth: () => 0 }),
      disk,
      // One call to the absent edge, no retries (authorize-retry.test.ts covers those): each admit answers at once.
      authorizeBudgetMs: 1000,
    });
    const admit = () => ingest.admit({ streamKey: 'sk_test', protocol: 'rtmp', remoteAddress: '127.0.0.1' }, () => undefined);
    try {
      expect(await admit()).toMatchObject({ ok: false, reason: 'edge_unavailable' });
      // Fill the disk to its last byte; no periodic measure runs for 10 minutes.
      await writeFile(path.join(mediaDir, 'filler.bin'), Buffer.alloc(9 * MiB)).catch(() => undefined);
      expect(await admit()).toMatchObject({ ok: false, reason: 'origin_disk_full', detail: expect.stringMatching(/^origin disk full: 0 MiB free/) });
      await rm(path.join(mediaDir, 'filler.bin'));
      expect(await admit()).toMatchObject({ ok: false, reason: 'edge_unavailable' });
    } finally {
      disk.stop();
    }
  });
});
