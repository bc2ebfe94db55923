// Signed calls from this origin to the edge's /internal API (same signing module as the edge).
import { signRequest } from '../shared/request-signing.ts';
import type {
  AuthorizeIngestRequest,
  AuthorizeIngestResponse,
  OriginEvent,
  OriginEventOutcome,
} from '../shared/schemas/internal.ts';

export type AuthorizeOutcome =
  | { ok: true; grant: AuthorizeIngestResponse }
  | { ok: false; reason: string; detail: string };

export class EdgeClient {
  constructor(
    private readonly edgeUrl: string,
    private readonly secret: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** A signed call; `path` includes any query, which the signature covers. */
  private async send(method: string, path: string, body: string | Uint8Array, contentType: string, timeoutMs = this.timeoutMs): Promise<Response> {
    const headers = await signRequest(this.secret, method, path, body);
    return fetch(this.edgeUrl + path, {
      method,
      body,
      headers: { ...headers, 'content-type': contentType },
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

  /** Stores one object in R2 through the edge. */
  async putMedia(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    await this.expectOk(await this.send('PUT', `/internal/media/${key}`, bytes, contentType, 120_000), `media PUT ${key}`);
  }

  async createMultipart(key: string, contentType: string): Promise<string> {
    const created = await this.expectOk<{ uploadId: string }>(
      await this.send('POST', `/internal/media/${key}?action=create-multipart`, '', contentType),
      `multipart create ${key}`,
    );
    return created.uploadId;
  }

  async uploadPart(key: string, uploadId: string, partNumber: number, bytes: Uint8Array): Promise<{ partNumber: number; etag: string }> {
    const query = new URLSearchParams({ uploadId, partNumber: String(partNumber) });
    return this.expectOk(await this.send('PUT', `/internal/media/${key}?${query}`, bytes, 'application/octet-stream', 120_000), `part ${partNumber} of ${key}`);
  }

  async completeMultipart(key: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void> {
    await this.expectOk(
      await this.send('POST', `/internal/media/${key}?action=complete-multipart`, JSON.stringify({ uploadId, parts }), 'application/json'),
      `multipart complete ${key}`,
    );
  }

  /** Refusals are answers; a network failure or 5xx throws, and the caller refuses the encoder. */
  async authorize(request: AuthorizeIngestRequest): Promise<AuthorizeOutcome> {
    const response = await this.post('/internal/ingest/authorize', request);
    if (response.status === 200) return { ok: true, grant: (await response.json()) as AuthorizeIngestResponse };
    const text = await response.text();
    if (response.status === 403) {
      const problem = JSON.parse(text) as { reason?: string; detail?: string };
      return { ok: false, reason: problem.reason ?? 'refused', detail: problem.detail ?? '' };
    }
    throw new Error(`edge authorize answered ${response.status}: ${text.slice(0, 300)}`);
  }

  async sendEvents(events: OriginEvent[]): Promise<OriginEventOutcome[]> {
    const response = await this.post('/internal/events', { events });
    if (response.status !== 200) throw new Error(`edge events answered ${response.status}: ${(await response.text()).slice(0, 300)}`);
    return ((await response.json()) as { results: OriginEventOutcome[] }).results;
  }
}
