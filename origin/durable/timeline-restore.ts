// A resumed session this origin has no folder for (it went on elsewhere before, or this disk was lost): its timeline
// comes back from R2 before ffmpeg starts — ladder.json (so the ladder stays the same), master.m3u8, session.json, and
// each rendition's durable playlist, written both as ffmpeg's playlist (append_list then continues the sequence and
// marks the join with one EXT-X-DISCONTINUITY) and as the local durable playlist. Segments are not fetched: the edge
// serves the listed ones from R2.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MEDIA_PLAYLIST } from '../pipeline/hls-command.ts';
import { durablePlaylistKey } from '../../shared/durable-media.ts';
import { backoffDelay, sleep } from '../backoff.ts';
import { lastSequenceOf, LOCAL_DURABLE_PLAYLIST } from './durable-playlist.ts';
import { readState, SESSION_TOTALS_FILE, writeState } from './session-shipper.ts';
import { PDT_ANCHORS_FILE } from './program-date-time.ts';

export type DurableRead = (key: string) => Promise<Uint8Array | null>;

export interface RestoredTimeline {
  /** renditions whose durable playlist came back, with the last sequence each lists */
  renditions: Record<string, number>;
}

/** Playlists and JSON only: a timeline file above this is not one of ours. */
const MAX_TIMELINE_BYTES = 8 * 1024 * 1024;
const RENDITION_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** Reads with a few retries (R2 or the edge having a moment); null = the object does not exist. */
async function readWithRetries(read: DurableRead, key: string, attempts: number): Promise<Uint8Array | null> {
  for (let i = 0; ; i++) {
    try {
      return await read(key);
    } catch (error) {
      if (i + 1 >= attempts) throw error;
      await sleep(backoffDelay(i, 300, 3000));
    }
  }
}

/**
 * Writes the session's timeline from R2 into `outDir`. Nothing in R2 (the session never stored a segment) restores
 * nothing, and ffmpeg starts the session's playlists afresh. Throws when R2 could not be read within the retries.
 */
export async function restoreTimeline(o: { read: DurableRead; prefix: string; outDir: string; attempts?: number }): Promise<RestoredTimeline> {
  const attempts = o.attempts ?? 4;
  const get = async (key: string) => {
    const bytes = await readWithRetries(o.read, o.prefix + key, attempts);
    if (bytes && bytes.length > MAX_TIMELINE_BYTES) throw new Error(`${key} in R2 is ${bytes.length} bytes, too large for a timeline file`);
    return bytes;
  };
  await mkdir(o.outDir, { recursive: true });
  const restored: RestoredTimeline = { renditions: {} };
  const ladder = await get('ladder.json');
  if (!ladder) return restored;
  const names = renditionNames(Buffer.from(ladder).toString('utf8'));
  for (const name of names) {
    const playlist = await get(durablePlaylistKey(name));
    if (!playlist) continue;
    const text = Buffer.from(playlist).toString('utf8');
    const dir = path.join(o.outDir, name);
    await mkdir(dir, { recursive: true });
    await writeAtomic(path.join(dir, MEDIA_PLAYLIST), text);
    await writeAtomic(path.join(dir, LOCAL_DURABLE_PLAYLIST), text);
    restored.renditions[name] = lastSequenceOf(text);
  }
  await writeAtomic(path.join(o.outDir, 'ladder.json'), Buffer.from(ladder));
  const master = await get('master.m3u8');
  if (master) await writeAtomic(path.join(o.outDir, 'master.m3u8'), Buffer.from(master));
  const totals = await get(SESSION_TOTALS_FILE);
  if (totals) await writeAtomic(path.join(o.outDir, SESSION_TOTALS_FILE), Buffer.from(totals));
  // The earlier legs' PDT anchors: this origin's durable playlists then list those legs exactly as R2 does.
  const anchors = await get(PDT_ANCHORS_FILE);
  if (anchors) await writeAtomic(path.join(o.outDir, PDT_ANCHORS_FILE), Buffer.from(anchors));
  // The broadcast writes its own manifest at once; an older one from R2 only fills a gap.
  if (!existsSync(path.join(o.outDir, 'session.json'))) {
    const manifest = await get('session.json');
    if (manifest) await writeAtomic(path.join(o.outDir, 'session.json'), Buffer.from(manifest));
  }
  const state = await readState(o.outDir);
  await writeState(o.outDir, { renditions: { ...state.renditions, ...restored.renditions }, final: false });
  return restored;
}

/** The rendition names of a stored ladder.json ({renditions: [{name}]}), safe as folder names. */
export function renditionNames(ladderJson: string): string[] {
  try {
    const parsed = JSON.parse(ladderJson) as { renditions?: { name?: unknown }[] };
    return (parsed.renditions ?? []).map((r) => r.name).filter((n): n is string => typeof n === 'string' && RENDITION_NAME.test(n) && n !== '.' && n !== '..');
  } catch {
    return [];
  }
}

async function writeAtomic(file: string, body: string | Uint8Array): Promise<void> {
  const tmp = `${file}.restore.tmp`;
  await writeFile(tmp, body);
  await rename(tmp, file);
}
