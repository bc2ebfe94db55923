// A viewer of a live stream through the edge, for the cluster tests: it polls the master and every rendition playlist
// (every ~500 ms, as hls.js does for a short target duration), fetches each segment once when it is first listed, and
// keeps what it saw: per rendition, each media sequence number with its segment name, duration and whether a
// discontinuity came before it, and every status it got. The tests judge a failover by these observations: sequence
// numbers continue, one discontinuity, new names, no listed segment that 404s.

export interface SeenSegment {
  rendition: string;
  sequence: number;
  /** the URI as listed (relative to the playlist) */
  uri: string;
  url: string;
  duration: number;
  /** an EXT-X-DISCONTINUITY came right before it */
  discontinuity: boolean;
  firstListedAt: number;
  status: number | null;
  bytes: number;
}

export interface PlaylistFetch {
  at: number;
  rendition: string;
  status: number;
}

/** Pure: the segments of a media playlist with their sequence numbers. */
export function parseMediaPlaylist(text: string): { sequence: number; uri: string; duration: number; discontinuity: boolean }[] {
  const lines = text.split('\n').map((l) => l.trim());
  let sequence = Number(/#EXT-X-MEDIA-SEQUENCE:(\d+)/.exec(text)?.[1] ?? 0);
  const out: { sequence: number; uri: string; duration: number; discontinuity: boolean }[] = [];
  let discontinuity = false;
  let duration = 0;
  for (const line of lines) {
    if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (line.startsWith('#EXTINF:')) duration = Number(line.slice(8).split(',')[0]);
    else if (line !== '' && !line.startsWith('#')) {
      out.push({ sequence, uri: line, duration, discontinuity });
      sequence += 1;
      discontinuity = false;
    }
  }
  return out;
}

/** Pure: the rendition playlists a master playlist names. */
export function variantsOf(master: string): string[] {
  return master
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** The leg a segment belongs to: its name is `{legTag}-{nnnnn}.ts`, legTag chosen per ffmpeg launch. */
export const legOf = (uri: string): string => (uri.split('?')[0]!.split('/').pop() ?? '').split('-')[0] ?? '';

export class LivePlayer {
  /** rendition playlist path (as the master names it) → sequence → segment */
  readonly segments = new Map<string, Map<number, SeenSegment>>();
  readonly playlistFetches: PlaylistFetch[] = [];
  /** the same sequence number listed with another name: a collision a cache would serve wrongly */
  readonly conflicts: { rendition: string; sequence: number; first: string; then: string }[] = [];
  #stopped = false;
  #loop: Promise<void> | null = null;

  constructor(
    private readonly masterUrl: string,
    private readonly fetcher: (url: string) => Promise<Response> = (url) => fetch(url),
    private readonly intervalMs = 500,
    /** a safety stop: the player never outlives its test */
    private readonly maxMs = 300_000,
  ) {}

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }

  /** Every segment seen of one rendition, in sequence order. */
  ordered(rendition: string): SeenSegment[] {
    return [...(this.segments.get(rendition)?.values() ?? [])].sort((a, b) => a.sequence - b.sequence);
  }

  renditions(): string[] {
    return [...this.segments.keys()];
  }

  /** Fetches every segment seen once more (after a failover, the old origin's segments must still be there). */
  async refetchAll(): Promise<{ url: string; status: number }[]> {
    const failed: { url: string; status: number }[] = [];
    for (const rendition of this.renditions()) {
      for (const segment of this.ordered(rendition)) {
        const status = await this.#get(segment.url).then(async (r) => (await r.arrayBuffer(), r.status), () => 0);
        if (status !== 200) failed.push({ url: segment.url, status });
      }
    }
    return failed;
  }

  async #get(url: string): Promise<Response> {
    return this.fetcher(url);
  }

  async #run(): Promise<void> {
    const until = Date.now() + this.maxMs;
    while (!this.#stopped && Date.now() < until) {
      const began = Date.now();
      await this.#poll().catch(() => undefined);
      await new Promise((r) => setTimeout(r, Math.max(0, this.intervalMs - (Date.now() - began))));
    }
  }

  async #poll(): Promise<void> {
    const master = await this.#get(this.masterUrl).catch(() => null);
    this.playlistFetches.push({ at: Date.now(), rendition: 'master', status: master?.status ?? 0 });
    if (!master?.ok) return;
    for (const variant of variantsOf(await master.text())) {
      const playlistUrl = new URL(variant, this.masterUrl).toString();
      const response = await this.#get(playlistUrl).catch(() => null);
      this.playlistFetches.push({ at: Date.now(), rendition: variant, status: response?.status ?? 0 });
      if (!response?.ok) continue;
      const listed = parseMediaPlaylist(await response.text());
      const seen = this.segments.get(variant) ?? new Map<number, SeenSegment>();
      this.segments.set(variant, seen);
      for (const entry of listed) {
        const known = seen.get(entry.sequence);
        if (known) {
          if (known.uri !== entry.uri) this.conflicts.push({ rendition: variant, sequence: entry.sequence, first: known.uri, then: entry.uri });
          continue;
        }
        const segment: SeenSegment = {
          rendition: variant,
          ...entry,
          url: new URL(entry.uri, playlistUrl).toString(),
          firstListedAt: Date.now(),
          status: null,
          bytes: 0,
        };
        seen.set(entry.sequence, segment);
        const got = await this.#get(segment.url).catch(() => null);
        segment.status = got?.status ?? 0;
        segment.bytes = got ? (await got.arrayBuffer().catch(() => new ArrayBuffer(0))).byteLength : 0;
      }
    }
  }
}

export interface RenditionVerdict {
  rendition: string;
  /** sequence numbers seen, first and last */
  first: number;
  last: number;
  /** sequence numbers between first and last that no playlist ever listed */
  gaps: number[];
  /** sequence numbers a discontinuity came before */
  discontinuities: number[];
  /** leg tags in sequence order */
  legs: string[];
  /** the first sequence number of each leg after the first */
  joins: number[];
  /** segments whose one fetch did not answer 200 */
  notOk: { sequence: number; uri: string; status: number | null }[];
  /** segment names listed under two sequence numbers */
  reusedNames: string[];
  /** total duration listed per leg, in leg order */
  legDurations: number[];
}

/** Pure: what one rendition's observations say about a failover. */
export function renditionVerdict(rendition: string, segments: SeenSegment[]): RenditionVerdict {
  const ordered = [...segments].sort((a, b) => a.sequence - b.sequence);
  const present = new Set(ordered.map((s) => s.sequence));
  const first = ordered[0]?.sequence ?? 0;
  const last = ordered.at(-1)?.sequence ?? -1;
  const gaps: number[] = [];
  for (let n = first; n <= last; n++) if (!present.has(n)) gaps.push(n);
  const legs: string[] = [];
  const joins: number[] = [];
  const legDurations: number[] = [];
  for (const segment of ordered) {
    const leg = legOf(segment.uri);
    if (legs.at(-1) !== leg) {
      if (legs.length > 0) joins.push(segment.sequence);
      legs.push(leg);
      legDurations.push(0);
    }
    legDurations[legDurations.length - 1]! += segment.duration;
  }
  const names = ordered.map((s) => s.uri.split('?')[0]!.split('/').pop()!);
  return {
    rendition,
    first,
    last,
    gaps,
    discontinuities: ordered.filter((s) => s.discontinuity).map((s) => s.sequence),
    legs,
    joins,
    notOk: ordered.filter((s) => s.status !== 200).map((s) => ({ sequence: s.sequence, uri: s.uri, status: s.status })),
    reusedNames: names.filter((n, i) => names.indexOf(n) !== i),
    legDurations,
  };
}
