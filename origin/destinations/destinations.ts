// The origin's simulcast: the relays of every session this origin holds, keyed by session. LiveIngest tells it when
// a broadcast starts (with authorize's targets), hands it the encoder's media, and tells it when the encoder leaves
// and when the session ends; the edge's POST /control/destinations changes a live session's targets.
import type { FlvInput } from '../media/flv-muxer.ts';
import { flvMetadataTag, FlvTagType } from '../media/flv-muxer.ts';
import type { OriginEvent } from '../../shared/schemas/internal.ts';
import type { MediaTag } from './flv-tags.ts';
import { SessionRelays } from './session-relays.ts';
import type { RelayTarget } from './target-diff.ts';

export interface DestinationsDeps {
  emit: (event: OriginEvent) => Promise<void>;
  /** Takes one relay's place in the capacity ledger; the returned function frees it. */
  holdCapacity: () => () => void;
  ffmpegPath?: string;
}

export interface SessionStart {
  streamId: string;
  sessionId: string;
  outDir: string;
  input: 'flv' | 'mpegts';
  targets: readonly RelayTarget[];
}

/** RTMP media as a relay tag (the FLV tag body is the RTMP message payload). */
export function tagOf(input: FlvInput): MediaTag {
  if (input.type === 'metadata') {
    const whole = flvMetadataTag(input.properties, 0);
    return { type: FlvTagType.Script, timestamp: 0, data: whole.subarray(11, whole.length - 4) };
  }
  return { type: input.type === 'audio' ? FlvTagType.Audio : FlvTagType.Video, timestamp: input.timestamp, data: input.payload };
}

export class Destinations {
  private readonly sessions = new Map<string, SessionRelays>();

  constructor(private readonly deps: DestinationsDeps) {}

  /** Relays running on this origin now (for metrics and tests). */
  get relayCount(): number {
    let count = 0;
    for (const session of this.sessions.values()) count += session.size;
    return count;
  }

  /** A broadcast starts or resumes here: its session's relays follow authorize's targets, and a new leg begins. */
  broadcastStarted(start: SessionStart): void {
    // A new session of the stream supersedes an older one still in its window: both must not publish to one target.
    for (const [id, other] of this.sessions) if (other.streamId === start.streamId && id !== start.sessionId) void this.sessionEnded(id);
    // Every broadcast has its session's relays, targets or not: the encoder's codec configuration arrives once, at
    // the publish, and a target added later must start with it.
    let session = this.sessions.get(start.sessionId);
    session ??= this.open(start.streamId, start.sessionId, start.outDir);
    session.legStarted(start.input);
    session.apply(start.targets);
  }

  /** The encoder's RTMP media, in order. */
  media(sessionId: string, input: FlvInput): void {
    this.sessions.get(sessionId)?.sourceTag(tagOf(input));
  }

  /** The encoder left; the session may resume within its window, so the targets stay connected. */
  broadcastEnded(sessionId: string): void {
    this.sessions.get(sessionId)?.legEnded();
  }

  /**
   * The edge's desired set for a session; `held` says where this origin holds it (null: not here, answered 404).
   * A broadcast that started without destinations gets its relays now.
   */
  apply(streamId: string, sessionId: string, targets: readonly RelayTarget[], held: { outDir: string; input: 'flv' | 'mpegts'; encoderConnected: boolean } | null): boolean {
    let session = this.sessions.get(sessionId);
    if (!session) {
      if (!held) return false;
      session = this.open(streamId, sessionId, held.outDir);
      session.legStarted(held.input);
      if (!held.encoderConnected) session.legEnded();
    }
    session.apply(targets);
    return true;
  }

  /** The session is over (window expired, completed, kicked for good): its relays unpublish and stop. */
  async sessionEnded(sessionId: string): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    this.sessions.delete(sessionId);
    await session.stop();
  }

  private open(streamId: string, sessionId: string, outDir: string): SessionRelays {
    const session = new SessionRelays({
      streamId,
      sessionId,
      outDir,
      emit: this.deps.emit,
      holdCapacity: this.deps.holdCapacity,
      ...(this.deps.ffmpegPath ? { ffmpegPath: this.deps.ffmpegPath } : {}),
    });
    this.sessions.set(sessionId, session);
    return session;
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions.keys()].map((id) => this.sessionEnded(id)));
  }
}
