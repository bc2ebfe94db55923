// This origin's durable media, session by session: a SessionShipper per session it holds, fed by the live transcode's
// segment events; the timeline restored from R2 when a resumed session has no folder here; media_durable told to the
// edge after each run's flush and when the session ends here; the session folder deleted once final in R2; and each
// session's media grant renewed through the heartbeat well before it runs out (a broadcast may outlast a grant).
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuthorizeIngestResponse, OriginEvent } from '../../shared/schemas/internal.ts';
import type { LiveTranscodeEvent } from '../pipeline/live-transcode.ts';
import { backoffDelay } from '../backoff.ts';
import { log, logWarn } from '../log.ts';
import { readState, SessionShipper, type DurableStore, type DurableFigures } from './session-shipper.ts';
import { sessionFolders, type SessionManifest } from '../ingest/session-manifest.ts';
import { DEFAULT_UPLOAD_RETRY, MediaUploader, PART_BYTES, type UploadRetryPolicy } from '../media-uploader.ts';
import type { EdgeClient } from '../edge-client.ts';
import { restoreTimeline } from './timeline-restore.ts';
import { UploadLanes } from './upload-lanes.ts';
import { readMediaGrant } from '../../shared/media-grant.ts';

/** Where a session's grant is kept on this origin's disk, so a restarted origin can still end the session in R2. */
const GRANT_FILE = 'durable-grant.json';
/**
 * A session's grant is renewed once less than this is left of it (authorize gives a day): hours of slack, so an edge
 * unreachable for a while, or a refusal to look into, never leaves a live session without a grant.
 */
export const GRANT_RENEW_BEFORE_MS = 6 * 3600_000;
/** A renewal asked and not answered (edge away, or it no longer sees this origin as the holder) is asked again after this. */
export const GRANT_RENEW_RETRY_MS = 60_000;
/** Tries to close a session's media in R2 before the folder is left as it is (storage down for good). */
const FINAL_ATTEMPTS = 8;

export interface DurableMediaDeps {
  store: DurableStore;
  emit: (event: OriginEvent) => Promise<void>;
  lanes?: UploadLanes;
}

export interface SessionRef {
  streamId: string;
  sessionId: string;
}

export class DurableMedia {
  private readonly shippers = new Map<string, SessionShipper>();
  private readonly lanes: UploadLanes;
  /** When a renewal of each session's grant was last asked for (so a beat every 3 s does not ask every 3 s). */
  private readonly renewalAsked = new Map<string, number>();

  constructor(private readonly deps: DurableMediaDeps) {
    this.lanes = deps.lanes ?? new UploadLanes(8);
  }

  /** Sessions with a shipper here (for the heartbeat's and the drain's view). */
  get sessions(): number {
    return this.shippers.size;
  }

  /**
   * Before ffmpeg starts a run of the session here. `restore`: the session is resumed and this origin has no folder
   * for it (another origin held it, or this disk was lost): its timeline comes from R2 first.
   */
  async prepare(grant: AuthorizeIngestResponse, outDir: string, restore: boolean): Promise<void> {
    if (restore) {
      // A shipper left from an earlier leg here knows less than R2 does now: start over from what R2 holds.
      this.shippers.get(grant.sessionId)?.close();
      this.shippers.delete(grant.sessionId);
      const started = Date.now();
      const restored = await restoreTimeline({ read: (key) => this.deps.store.read(key, grant.mediaGrant), prefix: grant.durablePrefix, outDir });
      log('durable_timeline_restored', {
        streamId: grant.streamId,
        sessionId: grant.sessionId,
        from: grant.resumeFrom?.originId ?? null,
        renditions: restored.renditions,
        ms: Date.now() - started,
      });
    }
    // The Broadcast creates the folder with its manifest, concurrently: a fresh session may not have it yet.
    await mkdir(outDir, { recursive: true });
    await writeFile(path.join(outDir, GRANT_FILE), JSON.stringify({ prefix: grant.durablePrefix, grant: grant.mediaGrant }));
    const existing = this.shippers.get(grant.sessionId);
    if (existing) {
      existing.renewGrant(grant.mediaGrant);
      return;
    }
    const shipper = new SessionShipper({
      streamId: grant.streamId,
      sessionId: grant.sessionId,
      outDir,
      prefix: grant.durablePrefix,
      grant: grant.mediaGrant,
      store: this.deps.store,
      lanes: this.lanes,
    });
    this.shippers.set(grant.sessionId, shipper);
    await shipper.start();
  }

  /**
   * Sessions whose grant runs out within GRANT_RENEW_BEFORE_MS (or cannot be read), for the heartbeat to ask a fresh one
   * for; each at most once per GRANT_RENEW_RETRY_MS, and at most `max` per call.
   */
  grantsDue(nowMs: number, max: number): SessionRef[] {
    const due: SessionRef[] = [];
    for (const shipper of this.shippers.values()) {
      if (due.length >= max) break;
      const expiresAt = readMediaGrant(shipper.currentGrant)?.expiresAt ?? 0;
      if (expiresAt - nowMs > GRANT_RENEW_BEFORE_MS) continue;
      const asked = this.renewalAsked.get(shipper.sessionId);
      if (asked !== undefined && nowMs - asked < GRANT_RENEW_RETRY_MS) continue;
      this.renewalAsked.set(shipper.sessionId, nowMs);
      due.push({ streamId: shipper.streamId, sessionId: shipper.sessionId });
    }
    return due;
  }

  /**
   * Fresh grants from the edge's heartbeat answer: the shipper uploads with it at once, and the session folder keeps it
   * (a restarted origin ends the session with it). A grant that outlasts the one held replaces it; anything else is kept out.
   */
  async renewGrants(grants: readonly (SessionRef & { mediaGrant: string })[]): Promise<void> {
    for (const { streamId, sessionId, mediaGrant } of grants) {
      const shipper = this.shippers.get(sessionId);
      const fresh = readMediaGrant(mediaGrant);
      if (!shipper || shipper.streamId !== streamId || !fresh) continue;
      const held = readMediaGrant(shipper.currentGrant)?.expiresAt ?? 0;
      if (fresh.expiresAt <= held) continue;
      shipper.renewGrant(mediaGrant);
      this.renewalAsked.delete(sessionId);
      await writeFile(path.join(shipper.outDir, GRANT_FILE), JSON.stringify({ prefix: shipper.prefix, grant: mediaGrant })).catch((error: unknown) =>
        logWarn('durable_grant_not_kept', { streamId, sessionId, error: String(error).slice(0, 200) }),
      );
      log('durable_grant_renewed', { streamId, sessionId, expiresAt: new Date(fresh.expiresAt).toISOString() });
    }
  }

  /** The live transcode's events for a session: segments to ship, a new master. */
  onTranscodeEvent(sessionId: string, event: LiveTranscodeEvent): void {
    const shipper = this.shippers.get(sessionId);
    if (!shipper) return;
    if (event.type === 'segment') shipper.onSegment(event.rendition, event.uri, event.sequence, event.closedAt);
    else if (event.type === 'master') shipper.timelineChanged(true);
    else if (event.type === 'leg_anchor') shipper.setLegAnchor(event.legTag, event.at);
  }

  /** A run ended (the encoder left): everything it produced goes to R2, then the edge hears media_durable. */
  async afterRun(run: SessionRef): Promise<void> {
    // Only the ids: a caller may hand the whole authorize answer, whose media grant must reach no log line.
    const session: SessionRef = { streamId: run.streamId, sessionId: run.sessionId };
    const shipper = this.shippers.get(session.sessionId);
    if (!shipper) return;
    const complete = await shipper.flush();
    log('durable_flushed', { ...session, complete, ...shipper.figures(), latency: shipper.latency() });
    if (complete) await this.emit(session, { ...shipper.figures(), final: false });
  }

  /**
   * The session is over on this origin (its window passed, or the edge ended it): its durable playlists are closed
   * with ENDLIST, the edge hears media_durable final, and the folder goes. Retried with backoff while storage fails.
   */
  async endSession(session: SessionRef, outDir: string, attempt = 0): Promise<void> {
    const shipper = this.shippers.get(session.sessionId) ?? (await this.reopen(session, outDir));
    if (!shipper) return;
    const outcome = await shipper.finalize().catch((error: unknown) => {
      logWarn('durable_final_failed', { ...session, error: String(error).slice(0, 300) });
      return 'incomplete' as const;
    });
    if (outcome === 'incomplete') {
      if (attempt + 1 >= FINAL_ATTEMPTS) {
        logWarn('durable_final_given_up', { ...session, attempts: attempt + 1, detail: 'the session folder stays on disk' });
        shipper.close();
        this.shippers.delete(session.sessionId);
        return;
      }
      const timer = setTimeout(() => void this.endSession(session, outDir, attempt + 1), backoffDelay(attempt, 5000, 120_000));
      timer.unref();
      return;
    }
    shipper.close();
    this.shippers.delete(session.sessionId);
    this.renewalAsked.delete(session.sessionId);
    if (outcome === 'final') await this.emit(session, { ...shipper.figures(), final: true });
    else log('durable_session_moved', { ...session, detail: 'another origin stored more of this session; it ends the session there' });
    await this.forgetFolder(session, outDir);
  }

  /** Session folders left by an earlier run of this origin whose media is not final in R2 (to end like lost encoders). */
  async unfinishedSessions(mediaDir: string): Promise<SessionManifest[]> {
    const found: SessionManifest[] = [];
    for (const folder of await sessionFolders(mediaDir)) {
      if (!existsSync(path.join(folder.dir, GRANT_FILE)) || (await readState(folder.dir)).final) continue;
      const manifest = await readFile(path.join(folder.dir, 'session.json'), 'utf8').then((t) => JSON.parse(t) as SessionManifest, () => null);
      if (manifest?.streamId === folder.streamId && manifest.sessionId === folder.sessionId) found.push(manifest);
    }
    return found;
  }

  /** Shutting down (drain): every session's closed segments into R2, within one deadline; true when all made it. */
  async flushAll(timeoutMs = 30_000): Promise<boolean> {
    const results = await Promise.all([...this.shippers.values()].map((shipper) => shipper.flush(timeoutMs)));
    return results.every(Boolean);
  }

  close(): void {
    for (const shipper of this.shippers.values()) shipper.close();
    this.shippers.clear();
  }

  /** A session whose folder outlived its shipper (an origin restart): its kept grant ships what is left. */
  private async reopen(session: SessionRef, outDir: string): Promise<SessionShipper | null> {
    const kept = await readFile(path.join(outDir, GRANT_FILE), 'utf8').then((t) => JSON.parse(t) as { prefix?: string; grant?: string }, () => null);
    if (!kept?.prefix || !kept.grant) return null; // a folder from before durable media: nothing to close in R2
    const shipper = new SessionShipper({ ...session, outDir, prefix: kept.prefix, grant: kept.grant, store: this.deps.store, lanes: this.lanes });
    this.shippers.set(session.sessionId, shipper);
    await shipper.start();
    return shipper;
  }

  /** Final in R2: this origin's copy is no longer needed (jobs build from R2). */
  private async forgetFolder(session: SessionRef, outDir: string): Promise<void> {
    if (!existsSync(outDir)) return;
    await rm(outDir, { recursive: true, force: true }).catch((error: unknown) => logWarn('durable_folder_kept', { ...session, error: String(error).slice(0, 200) }));
    const streamDir = path.dirname(outDir);
    if ((await readdir(streamDir).catch(() => ['?'])).length === 0) await rmdir(streamDir).catch(() => undefined);
    log('durable_folder_deleted', { ...session });
  }

  private emit(session: SessionRef, data: DurableFigures & { final: boolean }): Promise<void> {
    const event = { id: `oev_${randomUUID()}`, ...session, type: 'media_durable', at: new Date().toISOString(), data } as OriginEvent;
    return this.deps.emit(event).catch((error: unknown) => logWarn('event_not_queued', { ...session, type: 'media_durable', error: String(error) }));
  }
}

/**
 * Live media retries fast and for a short while per request: the shipper itself tries again (with backoff) for as long
 * as the session lasts, and its degraded listing covers the gap; a recording upload can afford minutes.
 */
export const LIVE_UPLOAD_RETRY: UploadRetryPolicy = { ...DEFAULT_UPLOAD_RETRY, budgetMs: 15_000, firstDelayMs: 200, maxDelayMs: 2000 };

/** R2 through the edge: uploads with the grant, reads with GET /internal/media. */
export function edgeDurableStore(edge: EdgeClient): DurableStore {
  const uploader = new MediaUploader(edge, PART_BYTES, LIVE_UPLOAD_RETRY);
  return {
    uploadFile: (key, file, grant) => uploader.uploadFile(key, file, grant),
    uploadBytes: (key, bytes, type, grant) => uploader.uploadBytes(key, bytes, type, grant),
    read: (key, grant) => edge.getMedia(key, grant, 64 * 1024 * 1024, 10_000),
  };
}
