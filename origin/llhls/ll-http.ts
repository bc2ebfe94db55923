// The origin's answers for a live low-mode session's files held in memory: the LL playlist (blocking per _HLS_msn /
// _HLS_part, delta per _HLS_skip), parts (held while hinted but not yet made) and init segments. Everything else of
// the session — and all of it once the session ends here — is served from disk by the HLS server as usual.
import { parseBlockingQuery } from './blocking-reload.ts';
import { parseMediaName, type MediaName } from './ll-playlist.ts';
import type { LowLatencySession, LowLatencyStore } from './low-latency-store.ts';

export interface LowLatencyTarget {
  session: LowLatencySession;
  rendition: string;
  name: Exclude<MediaName, { kind: 'segment' }>;
}

export type LowLatencyAnswer =
  | { kind: 'playlist'; body: string }
  | { kind: 'media'; body: Uint8Array }
  | { kind: 'problem'; status: 400 | 404 | 503; title: string; detail: string; field?: string }
  /** not held in memory (any more): the file on disk answers */
  | { kind: 'disk' };

/**
 * The request's session, rendition and file when the store holds them: `{streamId}/{sessionId}/{rendition}/{name}` (the
 * path below the media root, already checked by the server), a playlist, part or init of a live low-mode session.
 */
export function lowLatencyTarget(store: LowLatencyStore, pathSegments: readonly string[]): LowLatencyTarget | undefined {
  if (pathSegments.length !== 4) return undefined;
  const [streamId, sessionId, rendition, file] = pathSegments as [string, string, string, string];
  const session = store.find(streamId, sessionId);
  if (!session || !session.hasRendition(rendition)) return undefined;
  const name = parseMediaName(file);
  if (!name || name.kind === 'segment') return undefined;
  return { session, rendition, name };
}

export async function answerLowLatency(target: LowLatencyTarget, query: string, signal: AbortSignal): Promise<LowLatencyAnswer> {
  const { session, rendition, name } = target;
  if (name.kind === 'init') {
    const init = session.init(rendition, name.legTag);
    return init ? { kind: 'media', body: init.bytes } : { kind: 'disk' };
  }
  if (name.kind === 'part') {
    const answer = await session.part(rendition, name.legTag, name.msn, name.part, signal);
    if (answer.status === 200) return { kind: 'media', body: answer.bytes };
    if (answer.status === 404) return { kind: 'problem', status: 404, title: 'part not found', detail: `no part ${name.part} of segment ${name.msn} is held or coming` };
    if (answer.status === 503) return { kind: 'problem', status: 503, title: 'part not ready', detail: answer.detail };
    // The session ended while the request was held: parts are never on disk.
    return { kind: 'problem', status: 404, title: 'part not found', detail: 'the live session is no longer held here' };
  }
  const parsed = parseBlockingQuery(query);
  if (!parsed.ok) return { kind: 'problem', status: 400, title: 'bad blocking playlist request', detail: parsed.detail, field: parsed.field };
  const answer = await session.playlist(rendition, parsed.request, signal);
  if (answer.status === 200) return { kind: 'playlist', body: answer.body };
  if (answer.status === 400) return { kind: 'problem', status: 400, title: 'bad blocking playlist request', detail: answer.detail, field: answer.field };
  if (answer.status === 503) return { kind: 'problem', status: 503, title: 'playlist not ready', detail: answer.detail };
  return { kind: 'disk' };
}
