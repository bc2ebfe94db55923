// VOD jobs' share of the machine (issue 13): live transcodes and recordings come first, so a library video's ffmpeg runs
// at a lower CPU priority and with few threads. The priority is set on the VOD job's own worker thread (Linux keeps a
// nice value per thread, and every process a thread spawns starts with it), so each ffmpeg and ffprobe of the job is
// born low, with no window at normal priority and no pid to chase. Only the VOD threads are lowered: the recordings'
// and clips' thread, the main thread and the live transcodes keep theirs.
import os from 'node:os';

/** The VOD job's nice value: under contention a live transcode (0) gets ~10× the CPU of a VOD encode. */
export const VOD_NICENESS = 10;

/** Pure: x264/decoder threads for one VOD encode — half the cores, shared among the VOD threads, at least 1. */
export function vodEncodeThreads(cores: number, vodThreads: number): number {
  return Math.max(1, Math.floor(cores / 2 / Math.max(1, vodThreads)));
}

/**
 * Lowers this thread's CPU priority to `niceness` (never raises it), so what it spawns from now on runs at it too.
 * Returns the thread's nice value after, or null where a thread's priority cannot be set alone (not Linux: there
 * setpriority would lower the whole origin, live included, so it is left as it is).
 */
export function lowerThreadPriority(niceness = VOD_NICENESS): number | null {
  if (process.platform !== 'linux') return null;
  // pid 0 is the calling thread on Linux (its nice value is per thread), not the process.
  const now = os.getPriority(0);
  if (now < niceness) os.setPriority(0, niceness);
  return os.getPriority(0);
}
