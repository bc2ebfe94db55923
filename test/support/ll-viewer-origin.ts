// The origin's side of the low-latency playback load test: its HLS requests by kind (the admin listener's
// riverhead_origin_hls_requests_total{kind,status}), and a probe that tells when each part came to exist. The probe
// holds one blocking reload per rendition directly at the origin (signed with the origin's secret, as the edge signs),
// which the origin answers the moment the next part is there: the answer's arrival is the part's birth, the zero from
// which the viewers' delay through the edge is measured. Its own requests are counted so they can be taken out.
import { signRequest } from '../../shared/request-signing.ts';
import { nextPart, partsFrom, type PartPosition } from './ll-viewer.ts';
import { parseLlPlaylist } from './hls-validator.ts';

export const HLS_REQUEST_KINDS = ['playlist-blocking', 'playlist', 'part', 'segment', 'init', 'other'] as const;
export type HlsRequestKind = (typeof HLS_REQUEST_KINDS)[number];

export interface KindCounts {
  /** every status */
  all: Record<HlsRequestKind, number>;
  /** answered 200 (the coalescing figure: a 404 for a part the origin let go is an overload symptom, not a repeat) */
  ok: Record<HlsRequestKind, number>;
  /** answered 5xx */
  serverErrors: Record<HlsRequestKind, number>;
}

const zero = (): Record<HlsRequestKind, number> => Object.fromEntries(HLS_REQUEST_KINDS.map((k) => [k, 0])) as Record<HlsRequestKind, number>;

/** The origin's HLS request counter by kind, read from its /metrics text. */
export function parseKindCounts(metrics: string): KindCounts {
  const out: KindCounts = { all: zero(), ok: zero(), serverErrors: zero() };
  for (const line of metrics.split('\n')) {
    const m = /^riverhead_origin_hls_requests_total\{([^}]*)\} (\d+(?:\.\d+)?)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const kind = labels.kind as HlsRequestKind;
    if (!(kind in out.all)) continue;
    out.all[kind] += Number(m[2]);
    if (labels.status === '200') out.ok[kind] += Number(m[2]);
    if (/^5\d\d$/.test(labels.status ?? '')) out.serverErrors[kind] += Number(m[2]);
  }
  return out;
}

export async function originKindCounts(originAdminUrl: string): Promise<KindCounts> {
  const response = await fetch(`${originAdminUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`origin /metrics answered ${response.status}`);
  return parseKindCounts(await response.text());
}

export function countsBetween(before: KindCounts, after: KindCounts): KindCounts {
  const diff = (a: Record<HlsRequestKind, number>, b: Record<HlsRequestKind, number>) =>
    Object.fromEntries(HLS_REQUEST_KINDS.map((k) => [k, b[k] - a[k]])) as Record<HlsRequestKind, number>;
  return { all: diff(before.all, after.all), ok: diff(before.ok, after.ok), serverErrors: diff(before.serverErrors, after.serverErrors) };
}

export interface PartBirths {
  /** `${rendition} ${msn}.${part}` → epoch ms the probe first saw it listed */
  born: Map<string, number>;
  /** the probe's own origin requests, by kind */
  requests: { playlist: number; 'playlist-blocking': number };
  /** of which answered 200 */
  ok: { playlist: number; 'playlist-blocking': number };
  failures: string[];
}

export const birthKey = (rendition: string, p: PartPosition): string => `${rendition} ${p.msn}.${p.part}`;

export interface ProbeOptions {
  /** `http://127.0.0.1:{port}` of the origin's HLS listener */
  originUrl: string;
  originSecret: string;
  /** `/hls/{streamId}/{sessionId}` */
  sessionPath: string;
  renditions: readonly string[];
  /** stops after this epoch ms */
  until: number;
}

/** One blocking-reload loop per rendition at the origin until the deadline; every part's first sighting noted. */
export async function probePartBirths(options: ProbeOptions): Promise<PartBirths> {
  const births: PartBirths = { born: new Map(), requests: { playlist: 0, 'playlist-blocking': 0 }, ok: { playlist: 0, 'playlist-blocking': 0 }, failures: [] };
  const signedGet = async (pathWithQuery: string): Promise<{ status: number; text: string }> => {
    const headers = await signRequest(options.originSecret, 'GET', pathWithQuery, '');
    try {
      const response = await fetch(options.originUrl + pathWithQuery, { headers, signal: AbortSignal.timeout(10_000) });
      return { status: response.status, text: await response.text() };
    } catch (error) {
      return { status: 0, text: String((error as Error).cause ?? error) };
    }
  };
  await Promise.all(
    options.renditions.map(async (rendition) => {
      const path = `${options.sessionPath}/${rendition}/index.m3u8`;
      births.requests.playlist += 1;
      const first = await signedGet(path);
      if (first.status === 200) births.ok.playlist += 1;
      let wanted = first.status === 200 ? nextPart(parseLlPlaylist(first.text)) : null;
      if (!wanted) return void births.failures.push(`${first.status} ${path}: no parts`);
      while (Date.now() < options.until) {
        births.requests['playlist-blocking'] += 1;
        const answer = await signedGet(`${path}?_HLS_msn=${wanted.msn}&_HLS_part=${wanted.part}`);
        const now = Date.now();
        if (answer.status === 200) births.ok['playlist-blocking'] += 1;
        if (answer.status !== 200) {
          if (births.failures.length < 50) births.failures.push(`${answer.status} ${path} ${wanted.msn}.${wanted.part}`);
          await new Promise((r) => setTimeout(r, 200));
          continue;
        }
        const playlist = parseLlPlaylist(answer.text);
        for (const p of partsFrom(playlist, wanted)) if (!births.born.has(birthKey(rendition, p))) births.born.set(birthKey(rendition, p), now);
        wanted = nextPart(playlist) ?? wanted;
      }
    }),
  );
  return births;
}
