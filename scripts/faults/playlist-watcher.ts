// A viewer of one stream through the edge, for the fault suite: it reloads the master and every media playlist about
// once a second, fetches every segment the first time it is listed, and at the end retries the ones that failed.
// What it saw gives two invariants: every listed segment fetchable, and at most one segment lost per fault.
import type { Stack } from '../../test/support/stack.ts';

export interface WatchFigures {
  playlistLoads: number;
  segmentsListed: number;
  segmentsFetched: number;
  /** listed, but not fetchable even on the last try: the URIs */
  unfetchable: string[];
  /** media sequence numbers missing between the lowest and highest seen, per rendition (a restart from 0 is not a gap) */
  gaps: number;
  /** playlist or segment loads that got no answer in time (the edge frozen, a cut) */
  timeouts: number;
}

const FETCH_TIMEOUT_MS = 4000;

export class PlaylistWatcher {
  private stopped = false;
  private loop: Promise<void>;
  /** segment URL → fetched (true) or not yet / failed (false) */
  private readonly segments = new Map<string, boolean>();
  /** rendition playlist URL → the media sequence numbers it listed, in order of first sight */
  private readonly numbers = new Map<string, number[]>();
  private figures = { playlistLoads: 0, timeouts: 0 };

  constructor(
    private readonly stack: Stack,
    private readonly playbackId: string,
  ) {
    this.loop = this.run();
  }

  private async get(url: string): Promise<Response | null> {
    try {
      return await this.stack.edgeFetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
    } catch {
      this.figures.timeouts += 1;
      return null;
    }
  }

  private async fetchSegment(url: string): Promise<void> {
    const response = await this.get(url);
    if (!response) return;
    const ok = response.ok && (await response.arrayBuffer()).byteLength > 0;
    if (ok) this.segments.set(url, true);
  }

  private async once(): Promise<void> {
    const masterUrl = `${this.stack.edgeUrl}/hls/${this.playbackId}/master.m3u8`;
    const master = await this.get(masterUrl);
    if (!master?.ok) {
      await master?.arrayBuffer();
      return;
    }
    const variants = (await master.text()).split('\n').filter((l) => l && !l.startsWith('#'));
    for (const variant of variants) {
      const playlistUrl = new URL(variant, masterUrl).toString();
      const media = await this.get(playlistUrl);
      if (!media?.ok) {
        await media?.arrayBuffer();
        continue;
      }
      this.figures.playlistLoads += 1;
      const lines = (await media.text()).split('\n');
      let sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(lines.join('\n'))?.[1] ?? 0);
      const key = playlistUrl.split('?')[0]!;
      const seen = this.numbers.get(key) ?? [];
      this.numbers.set(key, seen);
      for (const line of lines) {
        if (!line || line.startsWith('#')) continue;
        const url = new URL(line, playlistUrl).toString();
        if (!this.segments.has(url)) {
          this.segments.set(url, false);
          seen.push(sequence);
          await this.fetchSegment(url);
        }
        sequence += 1;
      }
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      await this.once().catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.max(100, 1000 - (Date.now() - started))));
    }
  }

  /** Stops watching, retries every segment that failed, and reports. */
  async finish(): Promise<WatchFigures> {
    this.stopped = true;
    await this.loop;
    for (const [url, ok] of this.segments) if (!ok) await this.fetchSegment(url);
    let gaps = 0;
    for (const seen of this.numbers.values()) {
      // Runs of increasing numbers; a drop back (a new origin process starting its count again) starts a new run.
      let prev: number | null = null;
      for (const n of seen) {
        if (prev !== null && n > prev + 1) gaps += n - prev - 1;
        prev = n;
      }
    }
    const unfetchable = [...this.segments].filter(([, ok]) => !ok).map(([url]) => url.replace(this.stack.edgeUrl, ''));
    return {
      playlistLoads: this.figures.playlistLoads,
      segmentsListed: this.segments.size,
      segmentsFetched: this.segments.size - unfetchable.length,
      unfetchable,
      gaps,
      timeouts: this.figures.timeouts,
    };
  }
}
