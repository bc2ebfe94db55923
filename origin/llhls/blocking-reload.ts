// Blocking playlist reload (rfc8216bis 6.2.5.2, 6.3.7): the _HLS_msn / _HLS_part / _HLS_skip query parsed, the spec's
// 400s decided, and whether a playlist already satisfies a request. Pure; the store does the waiting.

export interface BlockingRequest {
  msn?: number;
  part?: number;
  /** _HLS_skip=YES or v2 (we hold no date ranges, so both mean the same here) */
  skip: boolean;
}

export type ParsedBlocking = { ok: true; request: BlockingRequest } | { ok: false; field: string; detail: string };

const WHOLE = /^\d{1,15}$/;

/** The query string of a playlist request (without '?'); other parameters (tokens, signatures) are ignored. */
export function parseBlockingQuery(query: string): ParsedBlocking {
  const params = new URLSearchParams(query);
  const request: BlockingRequest = { skip: false };
  for (const field of ['_HLS_msn', '_HLS_part'] as const) {
    const values = params.getAll(field);
    if (values.length === 0) continue;
    if (values.length > 1 || !WHOLE.test(values[0]!)) return { ok: false, field, detail: `${field} must be one whole number >= 0` };
    request[field === '_HLS_msn' ? 'msn' : 'part'] = Number(values[0]);
  }
  const skip = params.getAll('_HLS_skip');
  if (skip.length > 1 || (skip.length === 1 && skip[0] !== 'YES' && skip[0] !== 'v2')) return { ok: false, field: '_HLS_skip', detail: '_HLS_skip must be YES or v2' };
  request.skip = skip.length === 1;
  if (request.part !== undefined && request.msn === undefined) return { ok: false, field: '_HLS_part', detail: '_HLS_part needs _HLS_msn' };
  return { ok: true, request };
}

/** What a rendition's playlist holds now, as far as blocking is concerned. */
export interface PlaylistPosition {
  /** the last closed segment's media sequence number, -1 before the first */
  lastClosedMsn: number;
  /** the last part listed (in the segment in progress, or the last closed one) */
  lastPart?: { msn: number; part: number };
  partTarget: number;
}

/** rfc8216bis: how far past the last part a request may ask: 3 / PART-TARGET parts when that is under 1 s, else 3. */
export function advancePartLimit(partTarget: number): number {
  return partTarget < 1 ? Math.floor(3 / partTarget) : 3;
}

/** The spec's refusals: a request too far in the future is a 400 at once rather than a wait. */
export function blockingRefusal(request: BlockingRequest, at: PlaylistPosition): { field: string; detail: string } | undefined {
  if (request.msn === undefined) return undefined;
  const lastMsn = Math.max(at.lastClosedMsn, at.lastPart?.msn ?? -1);
  if (request.msn > lastMsn + 2) return { field: '_HLS_msn', detail: `_HLS_msn=${request.msn} is more than 2 past the last segment (${lastMsn})` };
  if (request.part !== undefined && at.lastPart && request.msn === at.lastPart.msn && request.part > at.lastPart.part + advancePartLimit(at.partTarget)) {
    return { field: '_HLS_part', detail: `_HLS_part=${request.part} is more than ${advancePartLimit(at.partTarget)} parts past the last part (${at.lastPart.part})` };
  }
  return undefined;
}

/** Whether the playlist already holds what the request waits for (segment M, or part P of segment M, or later). */
export function blockingSatisfied(request: BlockingRequest, at: PlaylistPosition): boolean {
  if (request.msn === undefined) return true;
  if (at.lastClosedMsn >= request.msn) return true;
  if (request.part === undefined) return false;
  const last = at.lastPart;
  if (!last) return false;
  return last.msn > request.msn || (last.msn === request.msn && last.part >= request.part);
}
