// Who runs next on the media jobs pool, and who may wait at all (pure): recordings have a lane of their own that is
// always served first and never refused; clips are limited per workspace and per origin, and take turns workspace by
// workspace, so one workspace's clips can neither crowd out a recording nor another workspace's clip. Library videos'
// VOD jobs (issue 13) have threads of their own (`vodThreads`): a VOD job that runs for tens of minutes never holds the
// thread a recording or a clip needs, and at most `vodPerOrigin` are accepted at once.

export type JobLane = 'recording' | 'clip' | 'vod';

export interface LaneLimits {
  /** threads for recordings and clips */
  threads: number;
  /** clips of one workspace accepted at once (running or waiting) */
  clipsPerWorkspace: number;
  /** clips accepted at once on this origin (running or waiting) */
  clipsPerOrigin: number;
  /** recordings waiting: a bound for memory's sake, far above any real backlog (one per ended session) */
  maxRecordingsWaiting: number;
  /** VOD jobs accepted at once on this origin (running or waiting); default 1 (VOD_JOBS_PER_ORIGIN) */
  vodPerOrigin?: number;
  /** threads for VOD jobs, apart from `threads`; default 1 (VOD_JOB_THREADS) */
  vodThreads?: number;
}

export interface Waiting<T> {
  lane: JobLane;
  /** the clip's workspace; recordings do not need one */
  workspaceId: string;
  item: T;
}

export type Admission = { ok: true } | { ok: false; reason: string };

export class JobLanes<T> {
  private readonly recordings: Waiting<T>[] = [];
  /** waiting clips by workspace, in the order workspaces first asked: the round-robin ring */
  private readonly clips = new Map<string, Waiting<T>[]>();
  private lastServed: string | null = null;
  /** clips accepted and not finished, by workspace (waiting and running) */
  private readonly clipsHeld = new Map<string, number>();
  private runningRecordings = 0;
  private runningClips = 0;
  private readonly vods: Waiting<T>[] = [];
  private runningVods = 0;

  constructor(readonly limits: LaneLimits) {}

  get running(): number {
    return this.runningRecordings + this.runningClips + this.runningVods;
  }

  /** VOD jobs on their threads now. */
  get vodsRunning(): number {
    return this.runningVods;
  }

  /** VOD jobs accepted and not finished (waiting and running). */
  get vodsAccepted(): number {
    return this.vods.length + this.runningVods;
  }

  get waiting(): number {
    let n = this.recordings.length + this.vods.length;
    for (const q of this.clips.values()) n += q.length;
    return n;
  }

  clipsOf(workspaceId: string): number {
    return this.clipsHeld.get(workspaceId) ?? 0;
  }

  get clipsAccepted(): number {
    let n = 0;
    for (const held of this.clipsHeld.values()) n += held;
    return n;
  }

  /** May a job of this lane (and workspace) join? Recordings only stop at the memory bound. */
  admit(lane: JobLane, workspaceId: string): Admission {
    if (lane === 'recording') {
      return this.recordings.length < this.limits.maxRecordingsWaiting ? { ok: true } : { ok: false, reason: `${this.recordings.length} recordings are already waiting` };
    }
    if (lane === 'vod') {
      const max = this.limits.vodPerOrigin ?? 1;
      return this.vodsAccepted < max ? { ok: true } : { ok: false, reason: `this origin already has ${max} video processing job${max === 1 ? '' : 's'}` };
    }
    if (this.clipsOf(workspaceId) >= this.limits.clipsPerWorkspace) {
      return { ok: false, reason: `this workspace already has ${this.limits.clipsPerWorkspace} clips being cut on this origin` };
    }
    if (this.clipsAccepted >= this.limits.clipsPerOrigin) {
      return { ok: false, reason: `this origin is already cutting ${this.limits.clipsPerOrigin} clips` };
    }
    return { ok: true };
  }

  /** Holds a clip's place for its workspace (after admit() said yes), before its job is ready to wait. */
  hold(workspaceId: string): void {
    this.clipsHeld.set(workspaceId, this.clipsOf(workspaceId) + 1);
  }

  /** Gives a held place back without running a job in it. */
  release(workspaceId: string): void {
    const held = this.clipsOf(workspaceId) - 1;
    if (held > 0) {
      this.clipsHeld.set(workspaceId, held);
      return;
    }
    this.clipsHeld.delete(workspaceId);
    if (this.clips.get(workspaceId)?.length === 0) this.clips.delete(workspaceId);
  }

  /** Joins the lane: a recording after admit() said yes, a clip in the place hold() kept for it. */
  enqueue(job: Waiting<T>): void {
    if (job.lane === 'recording') {
      this.recordings.push(job);
      return;
    }
    if (job.lane === 'vod') {
      this.vods.push(job);
      return;
    }
    const queue = this.clips.get(job.workspaceId);
    if (queue) queue.push(job);
    else this.clips.set(job.workspaceId, [job]);
  }

  /**
   * The job to start on a free thread, or undefined. Recordings first; a clip only while a thread stays free for a
   * recording (with more than one thread), and from the workspace whose turn it is; a VOD job whenever one of the VOD
   * threads is free (they are never the recordings' and clips' threads).
   */
  next(): Waiting<T> | undefined {
    return this.nextRecordingOrClip() ?? this.nextVod();
  }

  private nextVod(): Waiting<T> | undefined {
    if (this.runningVods >= (this.limits.vodThreads ?? 1)) return undefined;
    const vod = this.vods.shift();
    if (vod) this.runningVods++;
    return vod;
  }

  private nextRecordingOrClip(): Waiting<T> | undefined {
    if (this.runningRecordings + this.runningClips >= this.limits.threads) return undefined;
    const recording = this.recordings.shift();
    if (recording) {
      this.runningRecordings++;
      return recording;
    }
    const clipThreads = this.limits.threads > 1 ? this.limits.threads - 1 : 1;
    if (this.runningClips >= clipThreads) return undefined;
    // Round robin: the first workspace with a waiting clip after the one served last.
    const ring = [...this.clips.keys()];
    const from = this.lastServed === null ? 0 : ring.indexOf(this.lastServed) + 1;
    for (let i = 0; i < ring.length; i++) {
      const workspaceId = ring[(from + i) % ring.length]!;
      const job = this.clips.get(workspaceId)!.shift();
      if (!job) continue;
      this.lastServed = workspaceId;
      this.runningClips++;
      return job;
    }
    return undefined;
  }

  /** A job started by next() has finished; a clip's place is free again. */
  finished(job: Waiting<T>): void {
    if (job.lane === 'recording') {
      this.runningRecordings--;
      return;
    }
    if (job.lane === 'vod') {
      this.runningVods--;
      return;
    }
    this.runningClips--;
    this.release(job.workspaceId);
  }

  /** Takes every waiting job out (shutting down); their places are given back. */
  drain(): Waiting<T>[] {
    const all = [...this.recordings.splice(0), ...this.vods.splice(0)];
    for (const queue of this.clips.values()) all.push(...queue);
    this.clips.clear();
    for (const job of all) if (job.lane === 'clip') this.release(job.workspaceId);
    return all;
  }
}
