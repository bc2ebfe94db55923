// Commands from the edge to this origin (kick, finalize, clip), signed with ORIGIN_SECRET exactly like origin → edge
// calls. A clip beyond its workspace's (or this origin's) limit is answered 429 with Retry-After.
import { existsSync } from 'node:fs';
import type { z } from 'zod';
import type { HlsServer, RouteResponse } from './http/hls-server.ts';
import type { LiveIngest } from './ingest/live-ingest.ts';
import type { VodPublisher } from './vod/vod-publisher.ts';
import { sessionDir } from './ingest/session-manifest.ts';
import { verifyRequest } from '../shared/request-signing.ts';
import { KickCommand, FinalizeCommand, ClipCommand } from '../shared/schemas/internal.ts';

interface ControlDeps {
  ingest: LiveIngest;
  vod: VodPublisher;
  mediaDir: string;
  originSecret: string;
}

/** A signed, schema-checked POST route: the handler sees only a verified, parsed command. */
function command<S extends z.ZodTypeAny>(
  server: HlsServer,
  secret: string,
  path: string,
  schema: S,
  handle: (command: z.infer<S>) => RouteResponse,
): void {
  server.post(path, async (body, headers) => {
    const text = body.toString('utf8');
    const verdict = await verifyRequest(secret, 'POST', path, text, { get: (name) => headers[name.toLowerCase()] ?? null });
    if (!verdict.ok) return { status: 401, json: { error: 'bad signature', reason: verdict.reason } };
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { status: 400, json: { error: 'malformed JSON' } };
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) return { status: 400, json: { error: 'invalid command', issues: parsed.error.issues.map((i) => i.message) } };
    return handle(parsed.data);
  });
}

export function addControlRoutes(server: HlsServer, deps: ControlDeps): void {
  const { ingest, vod, mediaDir, originSecret } = deps;
  const holds = (streamId: string, sessionId: string) => existsSync(sessionDir(mediaDir, streamId, sessionId));

  command(server, originSecret, '/control/kick', KickCommand, ({ streamId, sessionId, reason, final }) => ({
    status: 200,
    json: { kicked: ingest.kick(streamId, sessionId, reason, final) },
  }));

  command(server, originSecret, '/control/finalize', FinalizeCommand, (job) => {
    if (!holds(job.streamId, job.sessionId)) return { status: 404, json: { error: 'this origin does not hold the session' } };
    void vod.finalizeRecording(job);
    return { status: 200, json: { accepted: true } };
  });

  command(server, originSecret, '/control/clips', ClipCommand, (job) => {
    if (!holds(job.streamId, job.sessionId)) return { status: 404, json: { error: 'this origin does not hold the session' } };
    const accepted = vod.acceptClip(job);
    if (!accepted.ok) {
      return { status: 429, json: { error: 'too many clip jobs', reason: accepted.reason, retryAfter: accepted.retryAfterSeconds }, headers: { 'Retry-After': String(accepted.retryAfterSeconds) } };
    }
    return { status: 202, json: { accepted: true } };
  });
}
