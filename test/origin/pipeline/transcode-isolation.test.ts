// Where a live transcode's relay runs (issue 15): on the main thread through an InlineChannel (the default), or on a
// worker thread. The channel keeps MessagePort's rules; both modes give the same run, events before `done`.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineChannel } from '../../../origin/pipeline/inline-port.ts';
import { chooseLadder } from '../../../origin/pipeline/ladder.ts';
import type { LiveTranscodeEvent } from '../../../origin/pipeline/live-transcode.ts';
import { parseMediaPlaylist } from '../../../origin/pipeline/playlists.ts';
import { TranscodePool } from '../../../origin/pipeline/transcode-pool.ts';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('InlineChannel', () => {
  it('delivers asynchronously and in order, both ways, then close on both ends after the messages posted before it', async () => {
    const channel = new InlineChannel((error) => {
      throw error;
    });
    const seen: string[] = [];
    channel.port1.on('message', (m: string) => seen.push(`1:${m}`));
    channel.port2.on('message', (m: string) => seen.push(`2:${m}`));
    channel.port1.on('close', () => seen.push('1:close'));
    channel.port2.on('close', () => seen.push('2:close'));
    channel.port1.postMessage('a');
    channel.port2.postMessage('b');
    channel.port1.postMessage('c');
    expect(seen).toEqual([]); // never synchronous: a sender's own state settles first, as with a thread
    channel.port2.close();
    channel.port1.postMessage('after close'); // dropped, no throw
    await tick();
    expect(seen).toEqual(['2:a', '1:b', '2:c', '1:close', '2:close']);
  });

  it('reports a throwing listener with the end it was delivered to, and goes on delivering', async () => {
    const errors: { message: string; toPort2: boolean }[] = [];
    const channel: InlineChannel = new InlineChannel((error, port) => errors.push({ message: (error as Error).message, toPort2: port === channel.port2 }));
    const got: number[] = [];
    channel.port2.on('message', (m: number) => {
      if (m === 1) throw new Error('relay bug');
      got.push(m);
    });
    channel.port1.postMessage(1);
    channel.port1.postMessage(2);
    await tick();
    expect(errors).toEqual([{ message: 'relay bug', toPort2: true }]);
    expect(got).toEqual([2]);
  });
});

describe('a live transcode, inline and on a worker thread', () => {
  let tmp: string;
  let flv: Buffer;
  beforeAll(async () => {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'transcode-isolation-'));
    const file = path.join(tmp, 'in.flv');
    await promisify(execFile)('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-f', 'lavfi', '-i', 'sine', '-c:a', 'aac', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '60', '-t', '6', '-f', 'flv', file]);
    flv = await readFile(file);
  });
  afterAll(async () => {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  for (const isolation of ['inline', 'thread'] as const) {
    it(`${isolation}: every segment is on disk and counted, its events delivered before done`, async () => {
      const pool = new TranscodePool({ capacity: 1, isolation, warmThreads: 0 });
      try {
        const ladder = chooseLadder({ width: 640, height: 360, fps: 30 });
        const outDir = path.join(tmp, isolation);
        const events: LiveTranscodeEvent[] = [];
        const started = pool.tryStart({ input: 'flv', outDir, renditions: ladder, pollIntervalMs: 200 }, (e) => events.push(e));
        if (!started.ok) throw new Error(started.message);
        expect(pool.tryStart({ input: 'flv', outDir: path.join(tmp, 'refused'), renditions: ladder })).toMatchObject({ ok: false, reason: 'capacity' });
        for (let i = 0; i < flv.length; i += 16 * 1024) expect(started.transcode.push(flv.subarray(i, i + 16 * 1024))).toBe(true);
        started.transcode.end();
        const result = await started.transcode.done;
        expect(result.reason).toBe('input-ended');
        expect(result.stats.inputBytes).toBe(flv.length);
        expect(pool.running).toBe(0);
        for (const r of ladder) {
          const onDisk = parseMediaPlaylist(await readFile(path.join(outDir, r.name, 'index.m3u8'), 'utf8')).segments.map((s) => s.uri);
          expect(onDisk.length).toBeGreaterThanOrEqual(2);
          expect(events.filter((e) => e.type === 'segment' && e.rendition === r.name).map((e) => (e as { uri: string }).uri)).toEqual(onDisk);
        }
        expect(events.some((e) => e.type === 'master')).toBe(true);
        expect(started.transcode.stats.renditions).toEqual(result.stats.renditions);
      } finally {
        await pool.close();
      }
    }, 60_000);
  }
});
