// Commands from the edge to this origin (kick), signed with ORIGIN_SECRET exactly like origin → edge calls.
import type { HlsServer } from './http/hls-server.ts';
import type { LiveIngest } from './ingest/live-ingest.ts';
import { verifyRequest } from '../shared/request-signing.ts';
import { KickCommand } from '../shared/schemas/internal.ts';

export function addControlRoutes(server: HlsServer, ingest: LiveIngest, originSecret: string): void {
  server.post('/control/kick', async (body, headers) => {
    const text = body.toString('utf8');
    const verdict = await verifyRequest(originSecret, 'POST', '/control/kick', text, { get: (name) => headers[name.toLowerCase()] ?? null });
    if (!verdict.ok) return { status: 401, json: { error: 'bad signature', reason: verdict.reason } };
    let parsed;
    try {
      parsed = KickCommand.safeParse(JSON.parse(text));
    } catch {
      return { status: 400, json: { error: 'malformed JSON' } };
    }
    if (!parsed.success) return { status: 400, json: { error: 'invalid command', issues: parsed.error.issues.map((i) => i.message) } };
    const { streamId, sessionId, reason, final } = parsed.data;
    const kicked = ingest.kick(streamId, sessionId, reason, final);
    return { status: 200, json: { kicked } };
  });
}
