// What a relay's ffmpeg run tells us, decided without I/O: the progress it reports, why a run ended, whether to retry
// (backoff with jitter) or give up because the server's refusal will not change, and how to say so without the key.
import { backoffDelay } from '../backoff.ts';

export type RelayStatus = 'connecting' | 'live' | 'retrying' | 'failed' | 'stopped';

/** Retries: 0.5 s doubling to 10 s (±20 % jitter), so a server back after an outage is rejoined within ~10 s. */
export const RETRY_FIRST_MS = 500;
export const RETRY_MAX_MS = 10_000;
/** A run live this long counts as a success: the next failure's backoff starts from the first step again. */
export const HEALTHY_RUN_MS = 10_000;
/**
 * The server closed right after the publish this many runs in a row without ever taking media: a refusal (bad key).
 * Not fewer: during a failover the old holder's relay may hold the target for a few seconds ("already publishing").
 */
export const REFUSALS_BEFORE_FAILED = 4;

/** ffmpeg cannot reach the server at all: the server may come back, so these are always retried. */
const UNREACHABLE = /Connection refused|Connection timed out|No route to host|Network is unreachable|Name or service not known|Temporary failure in name resolution|Cannot open connection|Operation timed out|timed out/i;
/** The server itself said no (an RTMP _error or onStatus error, e.g. NetStream.Publish.BadName): it will not change. */
const SERVER_ERROR = /Server error: (.*)$/;
/** What ffmpeg says when the server drops the connection under it. */
const DROPPED = /Broken pipe|Connection reset by peer|Input\/output error|End of file|Error number -104/i;

export interface RunEnd {
  /** the run had the server take media (bytes flowed for a while) */
  wentLive: boolean;
  /** ffmpeg's last stderr lines */
  stderrTail: readonly string[];
  /** we ended it: the target too slow, no progress, or asked to stop */
  killedFor?: 'slow' | 'stalled' | null;
}

export type RunVerdict = { kind: 'retry'; error: string; refusal: boolean } | { kind: 'failed'; error: string };

/** The line that says why a run ended (ffmpeg's first error line: the later ones are its consequences), or a fallback. */
export function lastError(stderrTail: readonly string[]): string {
  const meaningful = stderrTail.filter((l) => l.trim() && !/^\s*(frame=|size=|video:|\[flv @|Last message repeated|Conversion failed|Stream mapping|Press \[q\]|Error (closing file|writing trailer)|\[NULL @)/.test(l));
  return meaningful[0]?.trim() ?? stderrTail.find((l) => l.trim())?.trim() ?? 'ffmpeg exited';
}

/** Decides what follows a run's end; `refusalsInRow` counts earlier consecutive refusals (closed right after publish). */
export function judgeRunEnd(end: RunEnd, refusalsInRow: number): RunVerdict {
  if (end.killedFor === 'slow') return { kind: 'retry', error: 'the target took media too slowly (its queue was full); dropped and reconnecting', refusal: false };
  if (end.killedFor === 'stalled') return { kind: 'retry', error: 'no bytes reached the target for too long; reconnecting', refusal: false };
  for (const line of end.stderrTail) {
    const refused = SERVER_ERROR.exec(line);
    if (refused) return { kind: 'failed', error: `the server refused the publish: ${refused[1]!.trim()}` };
  }
  const error = lastError(end.stderrTail);
  const unreachable = end.stderrTail.some((l) => UNREACHABLE.test(l));
  const dropped = end.stderrTail.some((l) => DROPPED.test(l));
  if (!end.wentLive && !unreachable && dropped) {
    // Connected, then closed before taking any media: how nginx-rtmp (deny publish, on_publish refusal, unknown
    // application) and many services refuse a bad key. One could be a server restarting; several in a row are not.
    if (refusalsInRow + 1 >= REFUSALS_BEFORE_FAILED) {
      return { kind: 'failed', error: `the server closed the connection right after the publish ${REFUSALS_BEFORE_FAILED} times in a row (wrong stream key or application?): ${error}` };
    }
    return { kind: 'retry', error: `the server closed the connection right after the publish: ${error}`, refusal: true };
  }
  return { kind: 'retry', error, refusal: false };
}

/** The wait before retry `attempt` (0-based since the last healthy run). */
export const retryDelay = (attempt: number, random: () => number = Math.random): number => backoffDelay(attempt, RETRY_FIRST_MS, RETRY_MAX_MS, random);

/** `total_size=N` from ffmpeg's -progress output, or null for other lines. */
export function progressBytes(line: string): number | null {
  const match = /^total_size=(\d+)\s*$/.exec(line);
  return match ? Number(match[1]) : null;
}

/** The URL as logs and events may show it: scheme, host and application, never the key (last segment) or the query. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const parts = parsed.pathname.split('/').filter(Boolean);
    const app = parts.slice(0, -1).join('/');
    return `${parsed.protocol}//${parsed.host}/${app ? `${app}/` : ''}***`;
  } catch {
    return '(invalid url)';
  }
}

/** A text (an ffmpeg line) with every trace of the target's URL and key replaced. */
export function scrub(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  try {
    const parsed = new URL(url);
    const key = decodeURIComponent(parsed.pathname.split('/').filter(Boolean).slice(-1)[0] ?? '');
    const secrets = [key, parsed.search.slice(1), parsed.password, parsed.username].filter((s) => s.length >= 3);
    for (const secret of secrets) out = out.split(secret).join('***');
  } catch {
    // not a URL: nothing more to find
  }
  return out.slice(0, 480);
}
