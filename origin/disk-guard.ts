// Free space on the media disk, measured with statfs: under `minFreeBytes` new publishes are refused, under
// `floorBytes` (or on an ENOSPC anywhere) live broadcasts end. ffmpeg's HLS muxer says nothing on a full disk: it goes
// on "writing" empty segments, so only a measure of our own can stop it.
import { statfs } from 'node:fs/promises';
import { log, logWarn } from './log.ts';

export type DiskState = 'ok' | 'low' | 'full';

export interface DiskLimits {
  /** under this, new publishes are refused */
  minFreeBytes: number;
  /** under this, live broadcasts end (the next segments would be lost anyway) */
  floorBytes: number;
}

const MiB = 1024 * 1024;
/** How long a publish waits for its own measure of the disk before the last periodic one decides. */
const ADMISSION_MEASURE_MS = 1000;
/** Leaving `low` or `full` takes this much more than the threshold, so a state does not flap at its edge. */
const HYSTERESIS = 0.1;

export const DEFAULT_DISK_LIMITS: DiskLimits = { minFreeBytes: 512 * MiB, floorBytes: 128 * MiB };

/** MEDIA_MIN_FREE_MB and MEDIA_FLOOR_MB, in MiB. */
export function diskLimitsFromEnv(env: NodeJS.ProcessEnv): DiskLimits {
  const mib = (name: string, fallback: number): number => {
    const raw = env[name];
    const value = raw === undefined || raw === '' ? fallback : Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number of MiB, got "${raw}"`);
    return Math.round(value * MiB);
  };
  const minFreeBytes = mib('MEDIA_MIN_FREE_MB', DEFAULT_DISK_LIMITS.minFreeBytes / MiB);
  const floorBytes = mib('MEDIA_FLOOR_MB', Math.min(DEFAULT_DISK_LIMITS.floorBytes, minFreeBytes) / MiB);
  if (floorBytes > minFreeBytes) throw new Error('MEDIA_FLOOR_MB must not exceed MEDIA_MIN_FREE_MB');
  return { minFreeBytes, floorBytes };
}

/** The disk's state for a measured free space, given the state before (hysteresis on the way back up). */
export function diskStateOf(freeBytes: number, limits: DiskLimits, previous: DiskState): DiskState {
  const raised = (threshold: number) => threshold * (1 + HYSTERESIS);
  if (freeBytes < (previous === 'full' ? raised(limits.floorBytes) : limits.floorBytes)) return 'full';
  if (freeBytes < (previous === 'ok' ? limits.minFreeBytes : raised(limits.minFreeBytes))) return 'low';
  return 'ok';
}

/** An error from a write that ran out of space (Node's fs, or a message carrying the errno text). */
export function isDiskFullError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  return /ENOSPC|EDQUOT|No space left on device/.test(error instanceof Error ? error.message : String(error));
}

export interface DiskGuardOptions {
  dir: string;
  limits: DiskLimits;
  /** how often statfs runs; default 1 s */
  intervalMs?: number;
  /** the disk became full: live broadcasts should end */
  onFull?: (reason: string) => void;
}

export class DiskGuard {
  private stateNow: DiskState = 'ok';
  private free = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | null = null;
  private measuring: Promise<void> | null = null;

  constructor(private readonly opts: DiskGuardOptions) {}

  get state(): DiskState {
    return this.stateNow;
  }

  get freeBytes(): number {
    return this.free;
  }

  /** Measures once now, then every interval. */
  async start(): Promise<void> {
    await this.measure();
    this.timer = setInterval(() => void this.measure(), this.opts.intervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * Why a new publish is refused, from a measure taken now: the periodic one can be an interval old, which on a small
   * disk is enough to let a publish in just after the disk filled, or to refuse one just after space came back (an
   * encoder that does not retry at once then stays out). One statfs per publish attempt, shared by concurrent ones.
   */
  async admissionRefusal(): Promise<string | null> {
    const fresh = async () => {
      // A measure already running may have read the disk before the change this publish follows: measure after it.
      if (this.measuring) await this.measuring;
      await this.measure();
    };
    let timer: NodeJS.Timeout | undefined;
    // A disk that does not answer statfs quickly (a hung network mount) leaves the last measure in charge.
    await Promise.race([fresh(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ADMISSION_MEASURE_MS)))]);
    clearTimeout(timer);
    return this.refusal();
  }

  /** Why a new publish is refused by the last measure, or null when there is room. */
  refusal(): string | null {
    if (this.stateNow === 'ok') return null;
    return `origin disk full: ${Math.floor(this.free / MiB)} MiB free, under the ${Math.round(this.opts.limits.minFreeBytes / MiB)} MiB minimum`;
  }

  /** A write failed with ENOSPC: full now, whatever the last measure said (statfs catches up on its next round). */
  reportDiskFull(where: string): void {
    this.free = Math.min(this.free, 0);
    this.enter('full', `origin disk full (${where})`);
  }

  measure(): Promise<void> {
    this.measuring ??= (async () => {
      try {
        const s = await statfs(this.opts.dir);
        this.free = Number(s.bavail) * Number(s.bsize);
        this.enter(diskStateOf(this.free, this.opts.limits, this.stateNow), 'origin disk full');
      } catch (error) {
        logWarn('disk_measure_failed', { dir: this.opts.dir, error: String(error) });
      } finally {
        this.measuring = null;
      }
    })();
    return this.measuring;
  }

  private enter(next: DiskState, reason: string): void {
    const previous = this.stateNow;
    if (next === previous) return;
    this.stateNow = next;
    const fields = { from: previous, to: next, freeMiB: Number.isFinite(this.free) ? Math.floor(this.free / MiB) : null };
    if (next === 'ok') log('disk_state', fields);
    else logWarn('disk_state', fields);
    if (next === 'full') this.opts.onFull?.(reason);
  }
}
