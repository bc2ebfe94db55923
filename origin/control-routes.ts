// Commands from the edge to this origin (kick, finish a session, export a recording, cut a clip), signed with
// ORIGIN_SECRET exactly like origin → edge calls. Exports and clips are built from the session's durable media in R2, so any origin takes them,
// whether or not it held the session. A clip beyond its workspace's (or this origin's) limit is answered 429 with
// Retry-After; a job arriving while the jobs pool shuts down is answered 503, so the edge sends it elsewhere.
import type { z } from 'zod';
import type { HlsServer, RouteResponse } from './http/hls-server.ts';
import type { LiveIngest } from './ingest/live-ingest.ts';
import type { DurableJobs } from './jobs/durable-jobs.ts';
import type { SimuliveRunner } from './simulive/simulive-runner.ts';
import { SimuliveCommand } from '../shared/schemas/internal.ts';
import { verifyRequest } from '../shared/request-signing.ts';
import { KickCommand, ClipCommand, ExportRecordingCommand, FinalizeCommand, HoldsQuery, type HoldsAnswer } from '../shared/schemas/internal.ts';
import { DestinationsCommand } from '../shared/schemas/internal.ts';
import { VodJobCommand } from '../shared/schemas/internal.ts';
import type { VodJobs } from './vod/vod-jobs.ts';

interface ControlDeps {
  ingest: LiveIngest;
  jobs: DurableJobs;
  originSecret: string;
  /** Simulive broadcasts of recordings (origin/simulive); without it /control/simulive is not served. */
  simulive?: SimuliveRunner;
  /** Library videos' jobs (origin/vod, issue 13); without it /control/vod-jobs is not served. */
  vod?: VodJobs;
}

const SHUTTING_DOWN: RouteResponse = { status: 503, json: { error: 'this origin is shutting down' }, headers: { 'Retry-After': '5' } };

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
  const { ingest, jobs, originSecret } = deps;

  command(server, originSecret, '/control/kick', KickCommand, ({ streamId, sessionId, reason, final }) => ({
    status: 200,
    json: { kicked: ingest.kick(streamId, sessionId, reason, final) },
  }));

  // Asked by the edge when the stream's key arrives through another origin: if no encoder publishes the session here
  // any more, the edge hands the session over at once instead of waiting for this origin's stats to lapse.
  command(server, originSecret, '/control/holds', HoldsQuery, ({ streamId, sessionId }) => ({
    status: 200,
    json: { publishing: ingest.holds(streamId, sessionId) } satisfies HoldsAnswer,
  }));

  // The session is STOPPED at the edge: end it here now rather than at the window's end, so its media is final in R2
  // (media_durable final) at once. 404: this origin holds no such session waiting to end; the edge goes by R2.
  command(server, originSecret, '/control/finalize', FinalizeCommand, ({ streamId, sessionId }) =>
    ingest.finishSession(streamId, sessionId) ? { status: 202, json: { finishing: true } } : { status: 404, json: { error: 'this origin holds no such session waiting to end' } },
  );

  // Simulcast (origin/destinations): the session's full desired set of targets, applied at once. 404: this origin
  // holds no such session (the edge retries with the session's holder).
  command(server, originSecret, '/control/destinations', DestinationsCommand, ({ streamId, sessionId, targets }) =>
    ingest.applyDestinations(streamId, sessionId, targets) ? { status: 202, json: { applied: targets.length } } : { status: 404, json: { error: 'this origin holds no such session' } },
  );

  // A SIMULIVE event went LIVE: broadcast its source recording here (202), unless this origin already does (409) or
  // cannot take a broadcast now (503: the edge tries another origin).
  const simulive = deps.simulive;
  if (simulive) {
    command(server, originSecret, '/control/simulive', SimuliveCommand, (order) => {
      const started = simulive.start(order);
      if (started.ok) return { status: 202, json: { accepted: true } };
      return { status: started.status, json: { error: started.reason }, ...(started.status === 503 ? { headers: { 'Retry-After': '5' } } : {}) };
    });
  }

  // A library video's import/processing job (issue 13): 202 taken (or joined, the same video's job already runs here),
  // 429 the VOD lane is full or live broadcasts need the capacity, 503 shutting down: the edge tries another origin.
  const vod = deps.vod;
  if (vod) {
    command(server, originSecret, '/control/vod-jobs', VodJobCommand, (job) => {
      const taken = vod.accept(job);
      if (taken.ok) return { status: 202, json: { accepted: true, joined: taken.joined } };
      return { status: taken.status, json: { error: 'video job refused', reason: taken.reason, retryAfter: taken.retryAfterSeconds }, headers: { 'Retry-After': String(taken.retryAfterSeconds) } };
    });
  }

  command(server, originSecret, '/control/export-recording', ExportRecordingCommand, (job) => {
    if (!jobs.accepting) return SHUTTING_DOWN;
    void jobs.exportRecording(job);
    return { status: 202, json: { accepted: true } };
  });

  command(server, originSecret, '/control/clips', ClipCommand, (job) => {
    if (!jobs.accepting) return SHUTTING_DOWN;
    const accepted = jobs.acceptClip(job);
    if (!accepted.ok) {
      return { status: 429, json: { error: 'too many clip jobs', reason: accepted.reason, retryAfter: accepted.retryAfterSeconds }, headers: { 'Retry-After': String(accepted.retryAfterSeconds) } };
    }
    return { status: 202, json: { accepted: true } };
  });
}
