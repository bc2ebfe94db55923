// The receiver's answer to a webhook attempt, as the delivery log keeps it: the first 4 KiB of the body decoded as
// text, whether there was more, and its Content-Type. Read with a byte cap and a deadline of its own, so a receiver that
// answers a huge body or trickles it cannot hold the consumer.

/** Bytes of a receiver's body kept per attempt. */
export const RESPONSE_EXCERPT_BYTES = 4096;
/** How long reading that much may take after the status line came (within the attempt's own timeout). */
export const RESPONSE_EXCERPT_DEADLINE_MS = 2000;
const MAX_CONTENT_TYPE_LENGTH = 200;

export interface ResponseExcerpt {
  /** The first RESPONSE_EXCERPT_BYTES of the body as UTF-8 text (an incomplete last character is left out). */
  body: string;
  /** true when the body went on past what is kept (or did not finish within the deadline). */
  truncated: boolean;
  contentType: string | null;
}

/** Reads at most `maxBytes` (+ one chunk) of the body, then cancels the rest; never throws. */
export async function readResponseExcerpt(
  response: Response,
  maxBytes = RESPONSE_EXCERPT_BYTES,
  deadlineMs = RESPONSE_EXCERPT_DEADLINE_MS,
): Promise<ResponseExcerpt> {
  const contentType = response.headers.get('content-type')?.slice(0, MAX_CONTENT_TYPE_LENGTH) ?? null;
  if (!response.body) return { body: '', truncated: false, contentType };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let received = 0;
  let truncated = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'deadline'>((resolve) => (timer = setTimeout(() => resolve('deadline'), deadlineMs)));
  try {
    while (received <= maxBytes) {
      const next = await Promise.race([reader.read(), deadline]);
      if (next === 'deadline') {
        truncated = true;
        break;
      }
      if (next.done) break;
      chunks.push(next.value);
      received += next.value.byteLength;
    }
    if (received > maxBytes) truncated = true;
  } catch {
    // The connection broke mid-body: what came is still the receiver's answer.
    truncated = true;
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(received, maxBytes));
  let at = 0;
  for (const chunk of chunks) {
    if (at >= bytes.length) break;
    const part = chunk.subarray(0, bytes.length - at);
    bytes.set(part, at);
    at += part.byteLength;
  }
  // stream: true holds back a character cut by the 4 KiB boundary instead of turning it into U+FFFD.
  const body = new TextDecoder().decode(bytes, { stream: truncated });
  return { body, truncated, contentType };
}
