// A viewer's LL-HLS playlist directives (rfc8216bis 6.2.5.2): _HLS_msn, _HLS_part and _HLS_skip, parsed from the
// request's query with the spec's 400s, pure. Only _HLS_msn and _HLS_part go to the origin, which holds the request
// until that segment or part exists; they alone (never the token) make the cache key of the answer, so every viewer
// waiting for the same part shares one origin request. _HLS_skip is applied here, per viewer, after the window
// (edge/low-latency/delta-update.ts): the origin's full answer is what every window is cut from.

export type SkipDirective = 'YES' | 'v2';

export interface BlockingQuery {
  msn: number | null;
  part: number | null;
  skip: SkipDirective | null;
}

export type ParsedBlockingQuery = { ok: true; query: BlockingQuery } | { ok: false; field: string; detail: string };

const WHOLE = /^\d{1,15}$/;

export function parseBlockingQuery(params: URLSearchParams): ParsedBlockingQuery {
  const numbers: { msn: number | null; part: number | null } = { msn: null, part: null };
  for (const [field, name] of [['_HLS_msn', 'msn'], ['_HLS_part', 'part']] as const) {
    const values = params.getAll(field);
    if (values.length === 0) continue;
    if (values.length > 1 || !WHOLE.test(values[0]!)) return { ok: false, field, detail: `${field} must be one whole number >= 0` };
    numbers[name] = Number(values[0]);
  }
  if (numbers.part !== null && numbers.msn === null) return { ok: false, field: '_HLS_part', detail: '_HLS_part needs _HLS_msn' };
  const skips = params.getAll('_HLS_skip');
  if (skips.length > 1 || (skips.length === 1 && skips[0] !== 'YES' && skips[0] !== 'v2')) {
    return { ok: false, field: '_HLS_skip', detail: '_HLS_skip must be YES or v2' };
  }
  return { ok: true, query: { ...numbers, skip: (skips[0] as SkipDirective | undefined) ?? null } };
}

/** A request the origin holds (it names a segment or part that may not exist yet). */
export const isHeld = (query: BlockingQuery): boolean => query.msn !== null;

/** The query the origin gets and the cache key keeps: the blocking directives only, in one order. */
export function originQuery(query: BlockingQuery): string {
  if (query.msn === null) return '';
  return `?_HLS_msn=${query.msn}${query.part !== null ? `&_HLS_part=${query.part}` : ''}`;
}
