// The packager and the store together with a real low-mode transcode (ffmpeg through the pool): every LL playlist the
// origin would answer during the run is well-formed — parts contiguous and within PART-TARGET, segments opening on an
// independent part, parts adding up to their segment, the hint naming the next part, reports in step — and a blocking
// request is answered by the run's next part.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LowLatencyStore } from '../../origin/llhls/low-latency-store.ts';
import { chooseLadder } from '../../origin/pipeline/ladder.ts';
import { TranscodePool } from '../../origin/pipeline/transcode-pool.ts';

const run = promisify(execFile);
const SECONDS = 6;

let tmp: string;
let input: Buffer;
let pool: TranscodePool;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'llhls-live-'));
  const flv = path.join(tmp, 'in.flv');
  await run('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=854x480:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-g', '30', '-keyint_min', '30', '-sc_threshold', '0', '-c:a', 'aac',
    '-t', String(SECONDS), '-f', 'flv', flv,
  ]);
  input = await readFile(flv);
  pool = new TranscodePool({ capacity: 1 });
});

afterAll(async () => {
  await pool?.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Checked {
  lastMsn: number;
  lastPart: number;
  reports: { uri: string; lastMsn: number; lastPart: number }[];
}

/** rfc8216bis rules a player depends on, checked on one playlist's text. */
function checkLlPlaylist(text: string): Checked {
  const lines = text.trim().split('\n');
  expect(lines[0]).toBe('#EXTM3U');
  const partTarget = Number(/#EXT-X-PART-INF:PART-TARGET=([\d.]+)/.exec(text)![1]);
  const target = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(text)![1]);
  const holdBack = Number(/PART-HOLD-BACK=([\d.]+)/.exec(text)![1]);
  expect(holdBack).toBeGreaterThanOrEqual(3 * partTarget - 1e-9);
  let msn = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)![1]);
  let parts: { duration: number; uri: string; independent: boolean }[] = [];
  let lastPart = -1;
  let lastMsn = msn;
  const reports: Checked['reports'] = [];
  for (const line of lines) {
    let m = /^#EXT-X-PART:DURATION=([\d.]+),URI="([^"]+)"(,INDEPENDENT=YES)?$/.exec(line);
    if (m) {
      const duration = Number(m[1]);
      expect(duration).toBeLessThanOrEqual(partTarget + 1e-9);
      expect(m[2]).toMatch(new RegExp(`-${String(msn).padStart(5, '0')}\\.${parts.length}\\.m4s$`));
      if (parts.length === 0) expect(m[3]).toBe(',INDEPENDENT=YES');
      parts.push({ duration, uri: m[2]!, independent: !!m[3] });
      lastMsn = msn;
      lastPart = parts.length - 1;
      continue;
    }
    m = /^#EXTINF:([\d.]+),$/.exec(line);
    if (m) {
      const extinf = Number(m[1]);
      expect(Math.round(extinf)).toBeLessThanOrEqual(target);
      if (parts.length > 0) expect(parts.reduce((n, p) => n + p.duration, 0)).toBeCloseTo(extinf, 3);
      continue;
    }
    if (/^[0-9a-f]{6}-\d{5}\.m4s$/.test(line)) {
      expect(line).toContain(`-${String(msn).padStart(5, '0')}.m4s`);
      if (parts.length > 0) {
        lastMsn = msn;
        lastPart = parts.length - 1;
      }
      msn += 1;
      parts = [];
      continue;
    }
    m = /^#EXT-X-PRELOAD-HINT:TYPE=PART,URI="([^"]+)"$/.exec(line);
    if (m) expect(m[1]).toMatch(new RegExp(`-${String(msn).padStart(5, '0')}\\.${parts.length}\\.m4s$`));
    m = /^#EXT-X-RENDITION-REPORT:URI="([^"]+)",LAST-MSN=(\d+),LAST-PART=(\d+)$/.exec(line);
    if (m) reports.push({ uri: m[1]!, lastMsn: Number(m[2]), lastPart: Number(m[3]) });
  }
  return { lastMsn, lastPart, reports };
}

describe('LL-HLS from a real low-mode transcode', () => {
  it('every playlist answered during the run is well-formed, renditions in step, and a blocking request is answered', async () => {
    const store = new LowLatencyStore({ partTargetSeconds: 0.2, segmentTargetSeconds: 2 });
    const feed = store.feed('stream', 'session');
    const renditions = chooseLadder({ width: 854, height: 480, fps: 30 });
    expect(renditions.length).toBeGreaterThanOrEqual(2);
    const snapshots: Promise<unknown>[] = [];
    const blocking: Promise<{ status: unknown; waitedMs: number }>[] = [];
    let events = 0;
    const r = pool.tryStart({ input: 'flv', outDir: path.join(tmp, 'out'), renditions, resume: false, latencyMode: 'low', partSeconds: 0.2, pollIntervalMs: 200 }, (e) => {
      feed.onEvent(e);
      if (e.type !== 'll_part' && e.type !== 'll_segment') return;
      const session = store.find('stream', 'session')!;
      events += 1;
      // Every few events, what each rendition's playlist says now; and once, a request for the part after the next.
      if (events % 5 === 0) {
        for (const { name } of renditions) {
          snapshots.push(session.playlist(name, { skip: events % 10 === 0 }).then((a) => {
            if (a.status !== 200) throw new Error(`playlist answered ${String(a.status)}`);
            const checked = checkLlPlaylist(a.body);
            expect(checked.reports).toHaveLength(renditions.length - 1);
            // Renditions are aligned part for part: another's last part is within a segment of this one's.
            for (const report of checked.reports) expect(Math.abs(report.lastMsn - checked.lastMsn)).toBeLessThanOrEqual(1);
          }));
        }
      }
      if (events === 40) {
        const started = Date.now();
        const last = session.lastPart(renditions[0]!.name)!;
        blocking.push(session.playlist(renditions[0]!.name, { msn: last.msn, part: last.part + 1, skip: false }).then((a) => ({ status: a.status, waitedMs: Date.now() - started })));
      }
    });
    if (!r.ok) throw new Error(r.message);
    for (let i = 0; i < input.length; i += 64 * 1024) r.transcode.push(input.subarray(i, i + 64 * 1024));
    r.transcode.end();
    const result = await r.transcode.done;
    expect(result.reason).toBe('input-ended');
    await Promise.all(snapshots);
    expect(snapshots.length).toBeGreaterThan(10);
    const [answered] = await Promise.all(blocking);
    expect(answered?.status).toBe(200);
    expect(answered!.waitedMs).toBeLessThan(3 * 2000);
    feed.end();
    expect(store.size).toBe(0);
  });
});

