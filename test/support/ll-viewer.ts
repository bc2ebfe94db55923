// One LL-HLS viewer as a low-latency player behaves through the edge (rfc8216bis 6.2.5.2), for the low-latency
// playback load test and its bench: the master once, its rendition's playlist once, then, until its deadline, a
// blocking reload `?_HLS_msn=M&_HLS_part=P` for the next part and a fetch of every part the answer lists past where
// it was, in order (its rendition's init once first). It notes when each part's bytes arrived, every non-200 answer, and any part it never got (a gap
// between what it had and the first part an answer listed). Bounded: one held request at a time, each with a timeout,
// network failures retried twice with a pause (wrangler's local dev proxy drops a few connections under load).
import { parseLlPlaylist, type ParsedLlPlaylist } from './hls-validator.ts';

export interface PartPosition {
  msn: number;
  part: number;
}

export interface PartArrival extends PartPosition {
  /** the viewer's index */
  viewer: number;
  rendition: string;
  /** epoch ms when the part's last byte arrived */
  at: number;
  /** epoch ms when the playlist answer listing it arrived */
  listedAt: number;
  bytes: number;
}

/** What all viewers of a run share: counts, and how many held requests are open at the edge at once. */
export interface LlLoadTally {
  requests: number;
  /** blocking reloads sent (each held at the edge until its part exists) */
  held: number;
  heldOpen: number;
  heldOpenPeak: number;
  retried: number;
  /** a non-200 answer or a request that failed three times: `status path` */
  failures: string[];
  /** parts a viewer never got: its next part was not the first one the following answer listed */
  gaps: string[];
  /** init segments fetched (a player fetches its rendition's EXT-X-MAP once before the first part) */
  inits: number;
  arrivals: PartArrival[];
  /** the first few answers that listed a part whose fetch then failed, with the part (for the report) */
  failedListings: { part: string; status: number; playlist: string }[];
}

export function newLlLoadTally(): LlLoadTally {
  return { requests: 0, held: 0, heldOpen: 0, heldOpenPeak: 0, retried: 0, failures: [], gaps: [], inits: 0, arrivals: [], failedListings: [] };
}

export interface LlViewerOptions {
  /** `{edgeUrl}/hls/{playbackId}/master.m3u8` */
  masterUrl: string;
  /** picks the rendition: index modulo the number of variants */
  index: number;
  /** no new blocking reload after this epoch ms */
  until: number;
  /** per request; a held request ends at the edge after 3 target durations, so this only catches a silent edge */
  requestTimeoutMs?: number;
  tally: LlLoadTally;
}

const MAX_FAILURES_KEPT = 200;
const MAX_ATTEMPTS = 3;
const LATE_GRACE_MS = 5000;

/** The rendition a variant URI names: its playlist's folder (`ses_x/240p/index.m3u8` → `240p`). */
export const renditionOf = (variantUri: string): string => {
  const folders = variantUri.split('?')[0]!.split('/').slice(0, -1);
  return folders[folders.length - 1] ?? '';
};

/** The part after the last one a playlist lists: the next index of the segment in progress, or the next segment's 0. */
export function nextPart(playlist: ParsedLlPlaylist): PartPosition | null {
  const last = playlist.segments[playlist.segments.length - 1];
  if (!last) return null;
  return last.uri === null ? { msn: last.msn, part: last.parts.length } : { msn: last.msn + 1, part: 0 };
}

/** The parts a playlist lists at or after `from`, in order, with their URIs. */
export function partsFrom(playlist: ParsedLlPlaylist, from: PartPosition): (PartPosition & { uri: string })[] {
  const out: (PartPosition & { uri: string })[] = [];
  for (const segment of playlist.segments) {
    if (segment.msn < from.msn) continue;
    segment.parts.forEach((p, part) => {
      if (segment.msn > from.msn || part >= from.part) out.push({ msn: segment.msn, part, uri: p.uri });
    });
  }
  return out;
}

/**
 * Whether `first` (the first part an answer lists from `wanted` on) follows on without a hole: it is `wanted`, or
 * `wanted` was one past the end of a segment that closed there and `first` opens the next one.
 */
export function followsOn(wanted: PartPosition, first: PartPosition, playlist: ParsedLlPlaylist): boolean {
  if (first.msn === wanted.msn && first.part === wanted.part) return true;
  const closed = playlist.segments.find((s) => s.msn === wanted.msn);
  return first.msn === wanted.msn + 1 && first.part === 0 && closed !== undefined && closed.uri !== null && closed.parts.length === wanted.part;
}

export async function runLlViewer(options: LlViewerOptions): Promise<void> {
  const { tally, until } = options;
  const timeoutMs = options.requestTimeoutMs ?? 15_000;
  const fail = (what: string) => {
    if (tally.failures.length < MAX_FAILURES_KEPT) tally.failures.push(what);
  };
  const get = async (url: string, held = false): Promise<{ status: number; body: Uint8Array }> => {
    for (let attempt = 1; ; attempt++) {
      tally.requests += 1;
      if (held) {
        tally.held += 1;
        tally.heldOpen += 1;
        tally.heldOpenPeak = Math.max(tally.heldOpenPeak, tally.heldOpen);
      }
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        const body = new Uint8Array(await response.arrayBuffer());
        if (response.status !== 200) fail(`${response.status} ${new URL(url).pathname}${new URL(url).search}`);
        return { status: response.status, body };
      } catch (error) {
        if (attempt === MAX_ATTEMPTS) {
          fail(`${new URL(url).pathname}${new URL(url).search}: ${String((error as Error).cause ?? error)}`);
          return { status: 0, body: new Uint8Array() };
        }
        tally.retried += 1;
        await new Promise((r) => setTimeout(r, 200 * attempt));
      } finally {
        if (held) tally.heldOpen -= 1;
      }
    }
  };
  const text = (body: Uint8Array) => new TextDecoder().decode(body);

  const master = await get(options.masterUrl);
  const variants = text(master.body).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (variants.length === 0) return fail(`no variants in ${options.masterUrl}`);
  const variant = variants[options.index % variants.length]!;
  const rendition = renditionOf(variant);
  const playlistUrl = new URL(variant, options.masterUrl);
  const first = await get(playlistUrl.toString());
  const opening = parseLlPlaylist(text(first.body));
  let wanted = first.status === 200 ? nextPart(opening) : null;
  if (!wanted) return fail(`no parts listed in ${playlistUrl.pathname}`);
  const map = [...opening.segments].reverse().find((s) => s.map !== null)?.map;
  if (map && (await get(new URL(map, playlistUrl).toString())).status === 200) tally.inits += 1;
  while (Date.now() < until) {
    const blocking = new URL(playlistUrl);
    blocking.searchParams.set('_HLS_msn', String(wanted.msn));
    blocking.searchParams.set('_HLS_part', String(wanted.part));
    const answer = await get(blocking.toString(), true);
    if (answer.status !== 200) {
      // A player reloads after a failed blocking request; the pause keeps a failing edge from being hammered.
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    const listedAt = Date.now();
    const playlist = parseLlPlaylist(text(answer.body));
    const listed = partsFrom(playlist, wanted);
    if (listed.length === 0) {
      fail(`200 without part ${wanted.msn}.${wanted.part} ${blocking.pathname}`);
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (!followsOn(wanted, listed[0]!, playlist)) tally.gaps.push(`${rendition}: wanted ${wanted.msn}.${wanted.part}, first listed ${listed[0]!.msn}.${listed[0]!.part}`);
    let lost = false;
    for (const part of listed) {
      // Bounded: a viewer far behind on an overloaded machine stops fetching a long listing soon after its deadline.
      if (Date.now() > until + LATE_GRACE_MS) break;
      const media = await get(new URL(part.uri, playlistUrl).toString());
      if (media.status === 200) {
        tally.arrivals.push({ viewer: options.index, rendition, msn: part.msn, part: part.part, at: Date.now(), listedAt, bytes: media.body.length });
        continue;
      }
      if (tally.failedListings.length < 3) tally.failedListings.push({ part: `${rendition} ${part.uri}`, status: media.status, playlist: text(answer.body) });
      lost = true;
      break;
    }
    if (!lost) {
      wanted = nextPart(playlist) ?? wanted;
      continue;
    }
    // Like a player whose part failed (a viewer fallen so far behind that the origin let its parts go): reload the
    // playlist and go on from the live edge, the parts in between lost.
    const fresh = await get(playlistUrl.toString());
    const resumed = fresh.status === 200 ? nextPart(parseLlPlaylist(text(fresh.body))) : null;
    tally.gaps.push(`${rendition}: part failed at ${wanted.msn}.${wanted.part}+, resumed at ${resumed ? `${resumed.msn}.${resumed.part}` : 'nothing'}`);
    if (resumed) wanted = resumed;
    else await new Promise((r) => setTimeout(r, 500));
  }
}
