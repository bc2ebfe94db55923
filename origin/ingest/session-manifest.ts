// A session's manifest on disk, next to its HLS: what an origin needs to finish the session after a restart.
import { mkdir, readFile, readdir, writeFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { SegmentCounters } from '../pipeline/live-transcode.ts';

export interface SessionManifest {
  streamId: string;
  sessionId: string;
  record: boolean;
  reconnectWindow: number;
  startedAt: string;
}

const MANIFEST = 'session.json';
/** Written once the recording is in R2 and the edge has been told, so a restart does not build it again. */
const FINALIZED = 'recording-finalized.json';

export const sessionDir = (mediaDir: string, streamId: string, sessionId: string) => path.join(mediaDir, streamId, sessionId);

export async function writeManifest(dir: string, manifest: SessionManifest): Promise<void> {
  await mkdir(dir, { recursive: true });
  const temporary = path.join(dir, `${MANIFEST}.tmp`);
  await writeFile(temporary, JSON.stringify(manifest));
  await rename(temporary, path.join(dir, MANIFEST));
}

export async function markFinalized(dir: string, details: object): Promise<void> {
  await writeFile(path.join(dir, FINALIZED), JSON.stringify({ at: new Date().toISOString(), ...details }));
}

/** How many times this origin started building the session's recording, and how the last one ended. */
const ATTEMPTS = 'recording-attempts.json';
/** A recording that failed this often is not rebuilt at startup any more (an explicit retry from the edge still is). */
export const MAX_FINALIZE_ATTEMPTS = 3;

export interface FinalizeAttempts {
  attempts: number;
  lastAt: string;
  lastError: string | null;
}

export async function readFinalizeAttempts(dir: string): Promise<FinalizeAttempts> {
  const text = await readFile(path.join(dir, ATTEMPTS), 'utf8').catch(() => null);
  if (!text) return { attempts: 0, lastAt: '', lastError: null };
  try {
    return JSON.parse(text) as FinalizeAttempts;
  } catch {
    return { attempts: 0, lastAt: '', lastError: null };
  }
}

/**
 * Counts a build attempt before it starts, so a build that crashes the process or fails on a full disk is not redone
 * at every restart. Throws when the count cannot be written (full disk): then the build must not start either.
 */
export async function noteFinalizeAttempt(dir: string): Promise<FinalizeAttempts> {
  const previous = await readFinalizeAttempts(dir);
  const next: FinalizeAttempts = { attempts: previous.attempts + 1, lastAt: new Date().toISOString(), lastError: null };
  await writeAtomicJson(path.join(dir, ATTEMPTS), next);
  return next;
}

/** The attempt failed: its reason is kept with the count (best effort, the disk may be full). */
export async function noteFinalizeFailure(dir: string, reason: string): Promise<void> {
  const current = await readFinalizeAttempts(dir);
  await writeAtomicJson(path.join(dir, ATTEMPTS), { ...current, lastError: reason.slice(0, 500) }).catch(() => undefined);
}

async function writeAtomicJson(file: string, value: unknown): Promise<void> {
  const temporary = `${file}.tmp`;
  await writeFile(temporary, JSON.stringify(value));
  await rename(temporary, file);
}

async function exists(file: string): Promise<boolean> {
  return readFile(file).then(
    () => true,
    () => false,
  );
}

/**
 * Recorded sessions on disk whose recording was never finished (the origin stopped or crashed first), leaving out
 * those whose build already failed MAX_FINALIZE_ATTEMPTS times: the edge was told each time, and redoing the same
 * failing work at every start is what turns a full disk into a crash loop.
 */
export async function unfinishedRecordings(mediaDir: string): Promise<SessionManifest[]> {
  const found: SessionManifest[] = [];
  const streams = await readdir(mediaDir, { withFileTypes: true }).catch(() => []);
  for (const stream of streams.filter((e) => e.isDirectory())) {
    const sessions = await readdir(path.join(mediaDir, stream.name), { withFileTypes: true }).catch(() => []);
    for (const session of sessions.filter((e) => e.isDirectory())) {
      const dir = path.join(mediaDir, stream.name, session.name);
      const text = await readFile(path.join(dir, MANIFEST), 'utf8').catch(() => null);
      if (!text) continue;
      let manifest: SessionManifest;
      try {
        manifest = JSON.parse(text) as SessionManifest;
      } catch {
        continue; // a manifest torn by a crash: nothing to resume from
      }
      if (!manifest.record || (await exists(path.join(dir, FINALIZED)))) continue;
      if ((await readFinalizeAttempts(dir)).attempts >= MAX_FINALIZE_ATTEMPTS) continue;
      found.push(manifest);
    }
  }
  return found;
}

/** seed 002's cumulative counters of a session; each ingest run adds to what earlier runs (before reconnects) left. */
export type SessionTotals = SegmentCounters;

const TOTALS = 'session-totals.json';

export const zeroTotals = (): SessionTotals => ({
  sourceSegments: 0,
  transcodedSegments: 0,
  sourceSegmentsDuration: 0,
  transcodedSegmentsDuration: 0,
  sourceBytes: 0,
  transcodedBytes: 0,
});

export async function readTotals(dir: string): Promise<SessionTotals> {
  const text = await readFile(path.join(dir, TOTALS), 'utf8').catch(() => null);
  return text ? { ...zeroTotals(), ...(JSON.parse(text) as Partial<SessionTotals>) } : zeroTotals();
}

export async function writeTotals(dir: string, totals: SessionTotals): Promise<void> {
  const temporary = path.join(dir, `${TOTALS}.tmp`);
  await writeFile(temporary, JSON.stringify(totals));
  await rename(temporary, path.join(dir, TOTALS));
}
