// Signed calls from this origin to the edge's /internal API (same signing module as the edge): each names this origin
// (x-riverhead-origin) and is signed with its own secret, which the edge derives for that id.
import { signRequest } from '../shared/request-signing.ts';
import { MEDIA_GRANT_HEADER } from '../shared/media-grant.ts';
import { ORIGIN_ID_HEADER } from '../shared/origin-credentials.ts';
import {
  OriginEventBatchResponse,
  type AuthorizeIngestRequest,
  type AuthorizeIngestResponse,
  type OriginEvent,
  type OriginEventOutcome,
} from '../shared/schemas/internal.ts';

/**
 * The edge refused a whole event batch with an answer that will not change by sending it again (400 malformed
 * envelope, 413 too large, 415, 422): the outbox splits the batch to find, and quarantine, the event at fault.
 * Any other failure (network, timeout, 401 while clocks disagree, 429, 5xx) is thrown as a plain Error: retry later.
 */
export class EdgeRefusedBatch extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`edge refused the event batch with ${status}: ${detail}`);
  }
}

const PERMANENT_BATCH_REFUSALS = new Set([400, 413, 415, 422]);

export type AuthorizeOutcome =
  | { ok: true; grant: AuthorizeIngestResponse }
  | { ok: false; reason: string; detail: string };

/** Who this origin is to the edge: its ORIGIN_ID and the secret POST /admin/origins issued for it. */
export interface OriginCredentials {
  originId: string;
  secret: string;
}

/** The headers that make a request this origin's: its id and the signature over method, path, time and body. */
export async function originRequestHeaders(credentials: OriginCredentials, method: string, path: string, body: string | Uint8Array): Promise<Record<string, string>> {
  return { ...(await signRequest(credentials.secret, method, path, body)), [ORIGIN_ID_HEADER]: credentials.originId };
}

const grantHeader = (grant: string): Record<string, string> => ({ [MEDIA_GRANT_HEADER]: grant });

export class EdgeClient {
  constructor(
    private readonly edgeUrl: string,
    private readonly credentials: OriginCredentials,
    private readonly timeoutMs = 5000,
  ) {}

  /** A signed call; `path` includes any query, which the signature covers. */
  private async send(
    method: string,
    path: string,
    body: string | Uint8Array,
    contentType: string,
    timeoutMs = this.timeoutMs,
    extraHeaders: Record<string, string> = {},
  ): Promise<Response> {
    const headers = await originRequestHeaders(this.credentials, method, path, body);
    return fetch(this.edgeUrl + path, {
      method,
      body: method === 'GET' ? undefined : body,
      // The edge's answers are small JSON: gzipped (fetch asks for it by default), each one cost a fresh zlib stream
      // here, a few per segment uploaded — measurable in the origin's CPU per stream (issue 15).
      headers: { ...headers, ...extraHeaders, 'content-type': contentType, 'accept-encoding': 'identity' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  }

  private post(path: string, payload: unknown): Promise<Response> {
    return this.send('POST', path, JSON.stringify(payload), 'application/json');
  }

  private async expectOk<T>(response: Response, what: string): Promise<T> {
    const text = await response.text();
    if (!response.ok) throw new Error(`edge ${what} answered ${response.status}: ${text.slice(0, 300)}`);
    return JSON.parse(text) as T;
  }

  /** Stores one object in R2 through the edge; `grant` (shared/media-grant.ts) covers its key. */
  async putMedia(key: string, bytes: Uint8Array, contentType: string, grant: string, timeoutMs = 120_000): Promise<void> {
    await this.expectOk(await this.send('PUT', `/internal/media/${key}`, bytes, contentType, timeoutMs, grantHeader(grant)), `media PUT ${key}`);
  }

  /** One durable object's bytes (at most `maxBytes`), or null when R2 has no such key. */
  async getMedia(key: string, grant: string, maxBytes = 64 * 1024 * 1024, timeoutMs = 30_000): Promise<Uint8Array | null> {
    const response = await this.send('GET', `/internal/media/${key}`, '', 'application/octet-stream', timeoutMs, grantHeader(grant));
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    if (!response.ok) throw new Error(`edge media GET ${key} answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new Error(`edge media GET ${key} answered 413: ${declared} bytes is more than ${maxBytes}`);
    }
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > maxBytes) throw new Error(`edge media GET ${key} answered 413: more than ${maxBytes} bytes`);
    return bytes;
  }

  async createMultipart(key: string, contentType: string, grant: string): Promise<string> {
    const created = await this.expectOk<{ uploadId: string }>(
      await this.send('POST', `/internal/media/${key}?action=create-multipart`, '', contentType, this.timeoutMs, grantHeader(grant)),
      `multipart create ${key}`,
    );
    return created.uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, bytes: Uint8Array, grant: string): Promise<{ partNumber: number; etag: string }> {
    const query = new URLSearchParams({ uploadId, partNumber: String(partNumber) });
    return this.expectOk(
      await this.send('PUT', `/internal/media/${key}?${query}`, bytes, 'application/octet-stream', 120_000, grantHeader(grant)),
      `part ${partNumber} of ${key}`,
    );
  }

  async completeMultipart(key: string, uploadId: string, parts: { partNumber: number; etag: string }[], grant: string): Promise<void> {
    await this.expectOk(
      await this.send('POST', `/internal/media/${key}?action=complete-multipart`, JSON.stringify({ uploadId, parts }), 'application/json', this.timeoutMs, grantHeader(grant)),
      `multipart complete ${key}`,
    );
  }

  /** Refusals are answers; a network failure, timeout or 5xx throws (LiveIngest retries within its budget, then refuses). */
  async authorize(request: AuthorizeIngestRequest, timeoutMs = this.timeoutMs): Promise<AuthorizeOutcome> {
    const response = await this.send('POST', '/internal/ingest/authorize', JSON.stringify(request), 'application/json', timeoutMs);
    if (response.status === 200) return { ok: true, grant: (await response.json()) as AuthorizeIngestResponse };
    const text = await response.text();
    if (response.status === 403) {
      const problem = JSON.parse(text) as { reason?: string; detail?: string };
      return { ok: false, reason: problem.reason ?? 'refused', detail: problem.detail ?? '' };
    }
    throw new Error(`edge authorize answered ${response.status}: ${text.slice(0, 300)}`);
  }

  /** One outcome per event, in the batch's order; throws EdgeRefusedBatch or, for a transient failure, an Error. */
  async sendEvents(events: OriginEvent[]): Promise<OriginEventOutcome[]> {
    const response = await this.post('/internal/events', { events });
    const text = await response.text();
    if (response.status === 200) {
      const answer = OriginEventBatchResponse.safeParse(JSON.parse(text));
      if (!answer.success) throw new Error('edge events answer does not follow the contract');
      return answer.data.results;
    }
    if (PERMANENT_BATCH_REFUSALS.has(response.status)) {
      let detail = text.slice(0, 300);
      try {
        detail = String((JSON.parse(text) as { detail?: unknown }).detail ?? detail).slice(0, 300);
      } catch {
        // not problem+json: keep the text
      }
      throw new EdgeRefusedBatch(response.status, detail);
    }
    throw new Error(`edge events answered ${response.status}: ${text.slice(0, 300)}`);
  }
}
