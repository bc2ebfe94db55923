// A Broadcast fed raw MPEG-TS (SRT): the transcode starts with the size read from the stream (no onMetaData),
// as an mpegts input, and SRT link issues show in the session stats.
import { describe, it, expect, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { LiveTranscodeJob } from '../../../origin/pipeline/live-transcode.ts';
import type { OriginEvent } from '../../../shared/schemas/internal.ts';
import { declinedBroadcast, ingestGrant, removeMediaDirs } from '../../support/declined-broadcast.ts';

const run = promisify(execFile);
const dirs: string[] = [];
afterEach(() => removeMediaDirs(dirs));

/** A Broadcast that records the transcode job and declines it: what the Broadcast decided is all this test looks at. */
const broadcastWith = (jobs: LiveTranscodeJob[], events: OriginEvent[]) =>
  declinedBroadcast(ingestGrant('ls_test', 'ses_test'), 'srt', { events, jobs, dirs, statsIntervalMs: 50 });

describe('Broadcast with MPEG-TS input', () => {
  it('starts the transcode as soon as the stream shows its size, with the ladder for that size', async () => {
    const { stdout } = await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=854x480:rate=30',
      '-f', 'lavfi', '-i', 'sine', '-t', '0.3', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-f', 'mpegts', 'pipe:1'], { encoding: 'buffer' });
    const jobs: LiveTranscodeJob[] = [];
    const broadcast = await broadcastWith(jobs, []);
    for (let offset = 0; offset < stdout.length && jobs.length === 0; offset += 1316) {
      broadcast.pushBytes(new Uint8Array(stdout.subarray(offset, offset + 1316)));
      await Promise.resolve(); // the transcode starts once its slot is granted (a microtask here)
    }
    await new Promise((r) => setTimeout(r, 0));
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ input: 'mpegts', hasAudio: true, sourceAudio: 'copy' });
    expect(jobs[0]!.renditions.map((r) => `${r.name}:${r.width}x${r.height}`)).toEqual(['source:854x480', '360p:640x360']);
    broadcast.end('test over');
  });

  it('reports SRT link issues in its stats, as unhealthy', async () => {
    const events: OriginEvent[] = [];
    const broadcast = await broadcastWith([], events);
    broadcast.reportLinkHealth(['SRT packet loss 3.2%', 'SRT RTT 450 ms']);
    await new Promise((r) => setTimeout(r, 150));
    broadcast.end('test over');
    const stats = events.filter((e) => e.type === 'stats').at(-1);
    expect(stats?.data).toMatchObject({ isHealthy: false, issues: ['SRT packet loss 3.2%', 'SRT RTT 450 ms'] });
  });
});
