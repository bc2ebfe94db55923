// What a Range header asks of an object of known size (RFC 9110 §14), decided without I/O: the whole object, one
// byte range, or nothing satisfiable (416). Multiple ranges and syntax we do not understand are ignored, as §14.2 allows.

export type ByteRangeDecision =
  | { kind: 'whole' }
  | { kind: 'partial'; offset: number; length: number }
  | { kind: 'unsatisfiable' };

/** One range, digits bounded so a hostile header costs nothing; larger values than an object's size compare fine as doubles. */
const SINGLE_RANGE = /^bytes=(\d{0,32})-(\d{0,32})$/i;

export function resolveByteRange(header: string | undefined | null, size: number): ByteRangeDecision {
  const match = header ? SINGLE_RANGE.exec(header.trim()) : null;
  if (!match) return { kind: 'whole' };
  const [, firstText = '', lastText = ''] = match;
  if (firstText === '' && lastText === '') return { kind: 'whole' };
  if (firstText === '') {
    // bytes=-n: the last n bytes; a zero-length suffix or an empty object has nothing to send.
    const suffix = Number(lastText);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    const length = Math.min(suffix, size);
    return { kind: 'partial', offset: size - length, length };
  }
  const first = Number(firstText);
  if (lastText !== '' && Number(lastText) < first) return { kind: 'unsatisfiable' }; // reversed: bytes=500-100
  if (first >= size) return { kind: 'unsatisfiable' };
  const last = lastText === '' ? size - 1 : Math.min(Number(lastText), size - 1);
  return { kind: 'partial', offset: first, length: last - first + 1 };
}

/** The Content-Range of a 206 or a 416. */
export function contentRange(decision: ByteRangeDecision, size: number): string | null {
  if (decision.kind === 'partial') return `bytes ${decision.offset}-${decision.offset + decision.length - 1}/${size}`;
  if (decision.kind === 'unsatisfiable') return `bytes */${size}`;
  return null;
}
