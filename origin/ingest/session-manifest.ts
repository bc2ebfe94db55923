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
export const sessionDir = (mediaDir: string, streamId: string, sessionId: string) => path.join(mediaDir, streamId, sessionId);

export async function writeManifest(dir: string, manifest: SessionManifest): Promise<void> {
  await mkdir(dir, { recursive: true });
  const temporary = path.join(dir, `${MANIFEST}.tmp`);
  await writeFile(temporary, JSON.stringify(manifest));
  await rename(temporary, path.join(dir, MANIFEST));
}

/**
 * Recorded sessions still on disk (the origin stopped or crashed before their media was final in R2: a final session's
 * folder is deleted), to end at startup like lost encoders.
 */
export async function unfinishedRecordings(mediaDir: string): Promise<SessionManifest[]> {
  const found: SessionManifest[] = [];
  for (const { dir } of await sessionFolders(mediaDir)) {
    const text = await readFile(path.join(dir, MANIFEST), 'utf8').catch(() => null);
    if (!text) continue;
    let manifest: SessionManifest;
    try {
      manifest = JSON.parse(text) as SessionManifest;
    } catch {
      continue; // a manifest torn by a crash: nothing to resume from
    }
    if (!manifest.record) continue;
    found.push(manifest);
  }
  return found;
}

export interface SessionFolder {
  streamId: string;
  sessionId: string;
  dir: string;
}

/** Every {streamId}/{sessionId} folder under the media root: what an earlier run of this origin left on disk. */
export async function sessionFolders(mediaDir: string): Promise<SessionFolder[]> {
  const found: SessionFolder[] = [];
  const streams = await readdir(mediaDir, { withFileTypes: true }).catch(() => []);
  for (const stream of streams.filter((e) => e.isDirectory())) {
    const sessions = await readdir(path.join(mediaDir, stream.name), { withFileTypes: true }).catch(() => []);
    for (const session of sessions.filter((e) => e.isDirectory())) {
      found.push({ streamId: stream.name, sessionId: session.name, dir: path.join(mediaDir, stream.name, session.name) });
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
