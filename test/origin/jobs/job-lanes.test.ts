// The media jobs' lanes as a pure scheduler: recordings first and never refused, clips limited per workspace and per
// origin, workspaces served in turn, a thread kept for recordings when there are several.
import { describe, expect, it } from 'vitest';
import { JobLanes, type JobLane } from '../../../origin/jobs/job-lanes.ts';

const lanes = (threads = 1, clipsPerWorkspace = 2, clipsPerOrigin = 4) => new JobLanes<string>({ threads, clipsPerWorkspace, clipsPerOrigin, maxRecordingsWaiting: 100 });

function add(l: JobLanes<string>, lane: JobLane, workspaceId: string, item: string): boolean {
  if (!l.admit(lane, workspaceId).ok) return false;
  if (lane === 'clip') l.hold(workspaceId);
  l.enqueue({ lane, workspaceId, item });
  return true;
}

describe('JobLanes', () => {
  it('refuses a workspace beyond its clips, never a recording', () => {
    const l = lanes();
    expect(add(l, 'clip', 'a', 'a1')).toBe(true);
    expect(add(l, 'clip', 'a', 'a2')).toBe(true);
    expect(l.admit('clip', 'a')).toMatchObject({ ok: false, reason: expect.stringMatching(/workspace already has 2/) });
    for (let i = 0; i < 50; i++) expect(add(l, 'recording', '', `r${i}`)).toBe(true);
    expect(add(l, 'clip', 'b', 'b1')).toBe(true);
  });

  it('refuses clips beyond the origin-wide limit', () => {
    const l = lanes(1, 2, 3);
    add(l, 'clip', 'a', 'a1');
    add(l, 'clip', 'a', 'a2');
    add(l, 'clip', 'b', 'b1');
    expect(l.admit('clip', 'c')).toMatchObject({ ok: false, reason: expect.stringMatching(/origin is already cutting 3/) });
  });

  it('starts recordings first, then clips workspace by workspace', () => {
    const l = lanes();
    add(l, 'clip', 'a', 'a1');
    expect(l.next()?.item).toBe('a1');
    expect(l.next()).toBeUndefined(); // one thread, busy
    add(l, 'clip', 'a', 'a2');
    add(l, 'clip', 'b', 'b1');
    add(l, 'recording', '', 'r1');
    const served: string[] = [];
    for (let job = l.next(); ; job = l.next()) {
      if (!job) break;
      served.push(job.item);
    }
    expect(served).toEqual([]);
    const order: string[] = [];
    let running = { lane: 'clip' as JobLane, workspaceId: 'a', item: 'a1' };
    for (;;) {
      l.finished(running);
      const job = l.next();
      if (!job) break;
      order.push(job.item);
      running = job;
    }
    expect(order).toEqual(['r1', 'b1', 'a2']);
    expect(l.clipsOf('a') + l.clipsOf('b')).toBe(0);
    expect(l.running + l.waiting).toBe(0);
  });

  it('keeps one of several threads for recordings', () => {
    const l = lanes(2, 5, 10);
    for (const i of [1, 2, 3]) add(l, 'clip', 'a', `a${i}`);
    expect(l.next()?.item).toBe('a1');
    expect(l.next()).toBeUndefined();
    add(l, 'recording', '', 'r1');
    expect(l.next()?.item).toBe('r1');
  });

  it('gives a held place back on release and on drain', () => {
    const l = lanes();
    expect(l.admit('clip', 'a').ok).toBe(true);
    l.hold('a');
    l.hold('a');
    expect(l.admit('clip', 'a').ok).toBe(false);
    l.release('a');
    l.enqueue({ lane: 'clip', workspaceId: 'a', item: 'a1' });
    add(l, 'recording', '', 'r1');
    expect(l.drain().map((j) => j.item)).toEqual(['r1', 'a1']);
    expect(l.clipsOf('a')).toBe(0);
  });
});
