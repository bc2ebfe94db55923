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

  private async post(path: string, payload: unknown): Promise<Response> {
    const body = JSON.stringify(payload);
    const headers = await signRequest(this.secret, 'POST', path, body);
    return fetch(this.edgeUrl + path, {
      method: 'POST',
      body,
      headers: { ...headers, 'content-type': 'application/json' },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
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
