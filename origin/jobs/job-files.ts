// File chores of the jobs: a scratch folder per run, segments linked rather than copied, outputs that
// appear only when complete, and the master playlist of a finished VOD.
import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, mkdtemp, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readHead } from '../media/file-head.ts';
import { MASTER_PLAYLIST } from '../pipeline/hls-command.ts';
import { buildMasterPlaylist, probeTsCodecs } from '../pipeline/playlists.ts';
import type { Variant } from '../pipeline/playlists.ts';

/** A scratch folder inside outDir (same filesystem, so renames out of it are atomic). */
export async function makeWorkDir(outDir: string): Promise<{ dir: string; remove(): Promise<void> }> {
  await mkdir(outDir, { recursive: true });
  const dir = await mkdtemp(path.join(outDir, '.work-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Segments never change once written, so a hard link is a free copy; across filesystems, a copy. */
export async function linkOrCopy(from: string, to: string): Promise<'linked' | 'copied'> {
  await unlink(to).catch(() => {});
  try {
    await link(from, to);
    return 'linked';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
    await copyFile(from, to);
    return 'copied';
  }
}

export async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

/** Moves a finished output into place, replacing an older one (a retried job). */
export async function moveInto(from: string, to: string): Promise<void> {
  await rm(to, { recursive: true, force: true });
  await rename(from, to);
}

export async function fileSize(file: string): Promise<number> {
  return (await stat(file)).size;
}


export interface VodVariantInput {
  /** folder name of the rendition inside the VOD */
  name: string;
  width: number;
  height: number;
  frameRate?: number;
  /** first segment, for the codec strings */
  firstSegment: string;
  /** every segment's bytes and seconds, for BANDWIDTH (peak) and AVERAGE-BANDWIDTH */
  segments: readonly { bytes: number; duration: number }[];
  hasAudio: boolean;
}

/** Pure: a variant of a finished rendition, with bandwidth measured from its segments. */
export function vodVariant(v: Omit<VodVariantInput, 'firstSegment'>, codecs: { video?: string; audio?: string }): Variant {
  const total = v.segments.reduce((a, s) => ({ bytes: a.bytes + s.bytes, duration: a.duration + s.duration }), { bytes: 0, duration: 0 });
  // A short last segment can look like a spike; judge the peak on full-length ones when there are any.
  const full = v.segments.filter((s) => s.duration >= 1);
  const peak = Math.max(0, ...(full.length > 0 ? full : v.segments).map((s) => (s.duration > 0 ? (s.bytes * 8) / s.duration : 0)));
  const average = total.duration > 0 ? (total.bytes * 8) / total.duration : 0;
  const list = [codecs.video, v.hasAudio ? (codecs.audio ?? 'mp4a.40.2') : undefined].filter((c): c is string => c !== undefined);
  const variant: Variant = {
    uri: `${v.name}/index.m3u8`,
    bandwidth: Math.max(1, Math.round(peak)),
    averageBandwidth: Math.max(1, Math.round(average)),
    width: v.width,
    height: v.height,
    codecs: list,
  };
  if (v.frameRate !== undefined && v.frameRate > 0) variant.frameRate = v.frameRate;
  return variant;
}

/** Writes {vodDir}/master.m3u8 for the given renditions; codecs are read from each first segment. */
export async function writeVodMaster(vodDir: string, inputs: readonly VodVariantInput[]): Promise<Variant[]> {
  const variants: Variant[] = [];
  for (const v of inputs) variants.push(vodVariant(v, probeTsCodecs(await readHead(v.firstSegment, 2 * 1024 * 1024))));
  await writeAtomic(path.join(vodDir, MASTER_PLAYLIST), buildMasterPlaylist(variants));
  return variants;
}
