// The edge half of simulive (issue 12): a SIMULIVE event at LIVE has an origin broadcast its source recording as live on
// the event's stream. Checks the source (same workspace, exportable, its MP4 in R2), picks an origin, and sends it
// POST /control/simulive with a media grant on the source and a one-time ticket for authorize (edge/event/simulive-ticket.ts).
import type { Env } from '../env.ts';
import { issueMediaGrant } from '../../shared/media-grant.ts';
import { recordingMp4Key, type SimuliveCommand } from '../../shared/schemas/internal.ts';
import { pickOrigin } from '../origin-registry.ts';
import { sendOriginCommand } from '../origin-commands.ts';
import { log } from '../log.ts';

/** The origin reads the source within this (download with retries, then the broadcast has a session grant of its own). */
const SOURCE_GRANT_TTL_MS = 3600_000;
/** Origins tried per dispatch: one refusing (full, shutting down, unreachable) hands the command to the next. */
const ORIGIN_ATTEMPTS = 3;

export type SimuliveSourceCheck = { ok: true; key: string } | { ok: false; detail: string };

/**
 * Whether recording `recordingId` can be a simulive source for workspace `workspaceId`: a recording of that workspace,
 * exportable (its MP4 is built) and not cleaned by retention, whose MP4 is in R2. `detail` is for a 409
 * `simulive-source-not-ready` (create and start both check).
 */
export async function checkSimuliveSource(env: Pick<Env, 'DB' | 'MEDIA'>, workspaceId: string, recordingId: string): Promise<SimuliveSourceCheck> {
  const row = await env.DB.prepare('SELECT workspace_id, exportable, cleaned FROM recordings WHERE id = ?')
    .bind(recordingId)
    .first<{ workspace_id: string; exportable: number; cleaned: number }>();
  if (!row || row.workspace_id !== workspaceId) return { ok: false, detail: `recording ${recordingId} does not exist in this workspace` };
  if (row.cleaned) return { ok: false, detail: `recording ${recordingId} was deleted by the retention policy` };
  if (!row.exportable) return { ok: false, detail: `recording ${recordingId} is not exportable yet (its MP4 is still being built)` };
  const key = recordingMp4Key(recordingId);
  const mp4 = await env.MEDIA.head(key);
  if (!mp4) return { ok: false, detail: `recording ${recordingId} has no MP4 in storage` };
  // No size bound here: the origin reads the source in ranges and holds it to its own SIMULIVE_MAX_SOURCE_BYTES and
  // free disk (origin/simulive/source-download.ts), reporting a refusal as the broadcast's failure.
  return { ok: true, key };
}

export type SimuliveDispatch =
  | { ok: true; originId: string }
  /** source_not_ready: will not change by retrying (end the event); no_origin: none took it now (retry later). */
  | { ok: false; code: 'source_not_ready' | 'no_origin'; detail: string };

/**
 * Starts the simulive broadcast of `recordingId` on stream `streamId` (B's owed effect for `start_simulive`).
 *
 * Needs: the event's workspace (the source must be one of its recordings), the stream's zone (origins of that region
 * only, as for encoders; null = any), and `issueTicket`, the StreamObject's `issueSimuliveTicket()` (a fresh one-time
 * ticket per origin tried; authorize admits protocol 'simulive' only with it). Resolves once an origin answered 202
 * (the broadcast's own publish then follows through authorize and the origin events) — or why not: retry
 * `no_origin` with backoff; `source_not_ready` will not get better by itself.
 */
export async function startSimulive(
  env: Pick<Env, 'DB' | 'MEDIA' | 'ORIGIN_SECRET'>,
  target: { streamId: string; workspaceId: string; recordingId: string; zone: string | null },
  issueTicket: () => Promise<string>,
): Promise<SimuliveDispatch> {
  const source = await checkSimuliveSource(env, target.workspaceId, target.recordingId);
  if (!source.ok) return { ok: false, code: 'source_not_ready', detail: source.detail };
  const tried: string[] = [];
  const answers: string[] = [];
  for (let attempt = 0; attempt < ORIGIN_ATTEMPTS; attempt++) {
    const origin = await pickOrigin(env, { region: target.zone, exclude: tried });
    if (!origin) break;
    tried.push(origin.originId);
    const command: SimuliveCommand = {
      streamId: target.streamId,
      ticket: await issueTicket(),
      source: { recordingId: target.recordingId, key: source.key },
      grant: await issueMediaGrant(env.ORIGIN_SECRET, {
        originId: origin.originId,
        prefixes: [`recordings/${target.recordingId}/`],
        expiresAt: Date.now() + SOURCE_GRANT_TTL_MS,
      }),
    };
    try {
      const answer = await sendOriginCommand(env, origin.originId, origin.controlUrl, '/control/simulive', command);
      log('simulive_dispatched', { streamId: target.streamId, recordingId: target.recordingId, originId: origin.originId, status: answer.status });
      if (answer.status === 202) return { ok: true, originId: origin.originId };
      // 409: that origin broadcasts the stream already (an earlier dispatch whose answer was lost): it is running.
      if (answer.status === 409) return { ok: true, originId: origin.originId };
      answers.push(`${origin.originId}: ${answer.status}`);
    } catch (error) {
      answers.push(`${origin.originId}: ${error instanceof Error ? error.name : 'unreachable'}`);
    }
  }
  const detail = tried.length === 0 ? 'no origin can take a broadcast now' : `no origin took the simulive broadcast (${answers.join(', ')})`;
  log('simulive_not_dispatched', { streamId: target.streamId, recordingId: target.recordingId, detail });
  return { ok: false, code: 'no_origin', detail };
}
