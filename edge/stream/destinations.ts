// A stream's simulcast destinations (issue 14), kept in its StreamObject's SQLite: the API's create/update/delete, the
// targets the session holder relays (handed out by authorize, and sent again as POST /control/destinations whenever
// they change while live), and the holder's destination_status events, which move each destination's status and
// become destination.* webhooks. Stream keys are stored here only, sealed (edge/stream/destination-keys.ts), and leave
// only inside targets to the holder; a destination's URL must name a public host (edge/public-host.ts), as a webhook's.
// Pure rules first (input resolution, status view, which webhook a status change makes), then the Destinations class
// the StreamObject hosts.
import type { Env } from '../env.ts';
import type { StreamDocument, StreamSettings } from '../live-stream-view.ts';
import type { LifecycleEventName } from '../../shared/lifecycle-vocabulary.ts';
import type { FieldError } from '../problem.ts';
import type { DestinationsCommand, OriginEvent, OriginEventOutcome, SimulcastTarget } from '../../shared/schemas/internal.ts';
import {
  MAX_DESTINATIONS_PER_STREAM,
  type CreateDestinationRequest,
  type Destination,
  type DestinationStatus,
  type UpdateDestinationRequest,
} from '../../shared/schemas/destination.ts';
import {
  PLATFORM_PRESETS,
  checkStreamKey,
  publishUrl,
  serverUrlFor,
  type DestinationPlatform,
} from '../../shared/destination-platforms.ts';
import { newId } from '../../shared/identifiers.ts';
import { commandOrigin } from '../origin-commands.ts';
import { canonicalHostname, hostProblem } from '../public-host.ts';
import { destinationKeyCipher, isSealed, openStreamKey, sealStreamKey } from './destination-keys.ts';
import { log } from '../log.ts';

export const DESTINATIONS_TABLE = `
  CREATE TABLE IF NOT EXISTS destinations (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, platform TEXT NOT NULL, url TEXT NOT NULL, stream_key TEXT NOT NULL,
    rendition TEXT NOT NULL, enabled INTEGER NOT NULL, revision INTEGER NOT NULL,
    session_id TEXT, status TEXT, last_error TEXT, started_at INTEGER,
    bytes_sent INTEGER NOT NULL DEFAULT 0, reconnects INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);`;

/** What the holder last said of a destination's relay. */
type RelayStatus = Extract<OriginEvent, { type: 'destination_status' }>['data']['status'];
export type DestinationStatusEvent = Extract<OriginEvent, { type: 'destination_status' }>;

export type DestinationRow = {
  id: string;
  name: string;
  platform: DestinationPlatform;
  url: string;
  stream_key: string;
  rendition: string;
  enabled: number;
  revision: number;
  /** the session the runtime figures below are of */
  session_id: string | null;
  status: RelayStatus | null;
  last_error: string | null;
  started_at: number | null;
  bytes_sent: number;
  reconnects: number;
  created_at: number;
  updated_at: number;
};

/** The owed effect that sends the holder the full desired set of targets (carried out in the background, retried). */
export interface DestinationsEffect {
  kind: 'destinations_sync';
}

/** What a destination is made of, as the API sets it. */
export interface DestinationFields {
  name: string;
  platform: DestinationPlatform;
  url: string;
  streamKey: string;
  rendition: string;
  enabled: boolean;
}

export type Resolved = { ok: true; fields: DestinationFields } | { ok: false; errors: FieldError[] };

/**
 * Which hosts a destination's URL may name: public ones, and loopback only in local development (the same switch as
 * webhooks' loopback receivers, WEBHOOK_ALLOW_HTTP_LOOPBACK, decided by the API route from its request).
 */
export interface DestinationHostRules {
  allowLoopback: boolean;
}

// ── pure rules ──────────────────────────────────────────────────────────────────────────────────────

const RESOLUTION_LINES: Record<StreamSettings['maxResolution'], number> = { '2160p': 2160, '1440p': 1440, '1080p': 1080, '720p': 720, '480p': 480, '360p': 360 };
const DEFAULT_RUNGS = [1080, 720, 480, 360];

/**
 * The rendition names the stream's ladder can have (origin/pipeline/ladder.ts names them the same way): `source`, and
 * the explicit profiles' names, or else the default rungs up to maxResolution. Which rungs a broadcast really has also
 * depends on the encoder's resolution (no upscaling); the origin relays the source when the chosen rung is absent.
 */
export function allowedRenditions(settings: Pick<StreamSettings, 'profiles' | 'maxResolution'>): string[] {
  const names = ['source'];
  const unique = (base: string) => {
    let name = base;
    for (let i = 2; names.includes(name); i++) name = `${base}-${i}`;
    names.push(name);
  };
  if (settings.profiles && settings.profiles.length > 0) {
    for (const p of settings.profiles) {
      const safe = p.name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 32);
      unique(safe || `${Math.min(p.width, p.height)}p`);
    }
    return names;
  }
  const cap = RESOLUTION_LINES[settings.maxResolution];
  for (const lines of [...new Set([cap, ...DEFAULT_RUNGS.filter((l) => l <= cap)])].sort((a, b) => b - a)) unique(`${lines}p`);
  return names;
}

function defaultName(platform: DestinationPlatform, url: string): string {
  if (platform !== 'rtmp') return PLATFORM_PRESETS[platform].label;
  try {
    return new URL(url).hostname || 'RTMP';
  } catch {
    return 'RTMP';
  }
}

/**
 * A destination's fields after a create (current = null) or a PATCH, with every problem named by field: the server
 * URL (preset or given; a URL the request names must have a public host, the origin relaying the broadcast connects to
 * it), the key's shape for the platform, the rendition against the stream's ladder.
 */
export function resolveDestination(
  current: DestinationFields | null,
  request: CreateDestinationRequest | UpdateDestinationRequest,
  settings: Pick<StreamSettings, 'profiles' | 'maxResolution'>,
  hostRules: DestinationHostRules,
): Resolved {
  const errors: FieldError[] = [];
  const platform = request.platform ?? current!.platform;
  const platformChanged = current !== null && platform !== current.platform;
  // A new platform takes its preset's server unless a URL is given; 'rtmp' keeps the URL it had.
  const urlAsked = request.url ?? (current && !(platformChanged && PLATFORM_PRESETS[platform].url) ? current.url : undefined);
  let server = serverUrlFor(platform, urlAsked);
  if (!('field' in server) && request.url !== undefined) {
    // Only a URL this request names: a stored one was judged when it was written (a PATCH of the name never fails on it).
    const host = canonicalHostname(new URL(server.url).hostname);
    const problem = host === null ? 'not a valid host name or address' : hostProblem(host, hostRules.allowLoopback, 'be a simulcast destination');
    if (problem) server = { field: 'url', message: problem };
  }
  if ('field' in server) errors.push({ field: server.field, message: server.message });
  const streamKey = request.streamKey ?? current!.streamKey;
  const keyProblem = checkStreamKey(platform, streamKey);
  if (keyProblem) {
    // A platform change checks the stored key too: a Twitch key moved to YouTube would only fail mid-broadcast.
    const message = request.streamKey === undefined ? `the stored key ${keyProblem.message}; send a streamKey with the new platform` : keyProblem.message;
    errors.push({ field: 'streamKey', message });
  }
  const rendition = request.rendition ?? current?.rendition ?? 'source';
  const renditions = allowedRenditions(settings);
  if (request.rendition !== undefined && !renditions.includes(rendition)) {
    errors.push({ field: 'rendition', message: `not a rendition of this stream's ladder; one of: ${renditions.join(', ')}` });
  }
  if (errors.length > 0 || 'field' in server) return { ok: false, errors };
  return {
    ok: true,
    fields: {
      name: request.name ?? current?.name ?? defaultName(platform, server.url),
      platform,
      url: server.url,
      streamKey,
      rendition,
      enabled: request.enabled ?? current?.enabled ?? true,
    },
  };
}

/**
 * The session of the broadcast under way (live, or in its reconnect window), or null: a STOPPED stream keeps its last
 * session in its state, but nothing is relayed for it any more.
 */
export function broadcastSessionId(doc: Pick<StreamDocument, 'lifecycle'>): string | null {
  const { session, status } = doc.lifecycle;
  return session && (status === 'STREAMING' || status === 'RECORDING' || status === 'DISCONNECTED') ? session.id : null;
}

/** The status the API shows: disabled, idle with no broadcast, else what the holder last said in this broadcast. */
export function destinationStatus(row: Pick<DestinationRow, 'enabled' | 'session_id' | 'status'>, currentSessionId: string | null): DestinationStatus {
  if (!row.enabled) return 'disabled';
  if (currentSessionId === null) return 'idle';
  // Not heard of yet in this broadcast (or stopped and asked to start again): the holder is starting it.
  if (row.session_id !== currentSessionId || row.status === null || row.status === 'stopped') return 'connecting';
  return row.status;
}

export function destinationView(row: DestinationRow, streamId: string, currentSessionId: string | null): Destination {
  return {
    destinationId: row.id,
    streamId,
    name: row.name,
    platform: row.platform,
    url: row.url,
    rendition: row.rendition,
    enabled: row.enabled === 1,
    status: destinationStatus(row, currentSessionId),
    lastError: row.last_error,
    startedAt: row.started_at === null || currentSessionId === null || row.session_id !== currentSessionId ? null : new Date(row.started_at).toISOString(),
    bytesSent: row.bytes_sent,
    reconnects: row.reconnects,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** The webhook a relay's status change makes, with its reason; null when it makes none. */
export function statusWebhook(
  previous: RelayStatus | null,
  next: RelayStatus,
  error: string | null,
): { event: LifecycleEventName; reason: string | null } | null {
  if (next === 'live' && previous !== 'live') return { event: 'DESTINATION_CONNECTED', reason: null };
  if (next === 'failed' && previous !== 'failed') return { event: 'DESTINATION_FAILED', reason: error ?? 'the server refused the stream' };
  if (previous === 'live' && (next === 'retrying' || next === 'stopped')) {
    return { event: 'DESTINATION_DISCONNECTED', reason: error ?? (next === 'stopped' ? 'stopped' : 'the connection dropped') };
  }
  return null;
}

/**
 * A relay's error as shown (lastError, the webhook's reason): ffmpeg names the URL it failed on, and that URL carries
 * the stream key, so the key is cut out of whatever the origin says.
 */
export function redactKey(error: string | null, streamKey: string): string | null {
  return error === null ? null : error.split(streamKey).join('[stream key]');
}

/**
 * The same when the key cannot be opened: whatever follows the server URL in the error, up to a space, is taken for
 * the key (ffmpeg names the publish URL it failed on).
 */
export function redactPublishPath(error: string | null, serverUrl: string): string | null {
  if (error === null) return null;
  const prefix = `${serverUrl}/`;
  // The key runs to the next space, less a colon ending it ("…/KEY: Input/output error").
  return error.split(prefix).map((part, i) => (i === 0 ? part : `[stream key]${part.replace(/^\S+?(:?)(?=\s|$)/, '$1')}`)).join(prefix);
}

/** The target the holder relays; `streamKey` is the opened key. */
export function targetOf(row: Pick<DestinationRow, 'id' | 'url' | 'rendition' | 'revision'>, streamKey: string): SimulcastTarget {
  return { destinationId: row.id, url: publishUrl(row.url, streamKey), rendition: row.rendition, revision: row.revision };
}

const fieldsOf = (row: DestinationRow, streamKey: string): DestinationFields => ({
  name: row.name,
  platform: row.platform,
  url: row.url,
  streamKey,
  rendition: row.rendition,
  enabled: row.enabled === 1,
});

/** A stream key sealed for its destination before the transaction that stores it (WebCrypto is asynchronous). */
export interface SealedKey {
  destinationId: string;
  streamKey: string;
  stored: string;
}

// ── the StreamObject's destinations ────────────────────────────────────────────────────────────────

export type DestinationResult =
  | { ok: true; destination: Destination }
  | { ok: false; code: 'not_found' }
  | { ok: false; code: 'invalid'; detail: string; errors: FieldError[] };

/** What the destinations need of their StreamObject; every method runs inside the caller's transaction. */
export interface DestinationsHost {
  readonly sql: SqlStorage;
  env(): Env;
  owe(effect: DestinationsEffect): void;
  /** One stream webhook (and activity) about a destination. */
  emit(event: LifecycleEventName, sessionId: string | null, reason: string | null, destinationId: string): void;
}

export class Destinations {
  /** The cipher of stored keys, derived once per master (ORIGIN_SECRET). */
  private cipher: { master: string; key: Promise<CryptoKey> } | null = null;
  /**
   * (destination id, stored key) → opened key, for every stored value this object has sealed or opened: the synchronous
   * parts (a transaction's PATCH, an origin event's redaction) read keys from here. A stored value is unique (random
   * IV), so an entry never goes stale; entries no row holds any more are dropped.
   */
  private readonly opened = new Map<string, string>();

  constructor(private readonly host: DestinationsHost) {
    host.sql.exec(DESTINATIONS_TABLE);
  }

  private keyCipher(): Promise<CryptoKey> {
    const master = this.host.env().ORIGIN_SECRET;
    if (this.cipher?.master !== master) this.cipher = { master, key: destinationKeyCipher(master) };
    return this.cipher.key;
  }

  /**
   * Opens every stored key not opened yet (a row from before sealing is read as it is). Called before the synchronous
   * steps that need keys. A key that does not open (the master changed) is logged, without it, and left closed: its
   * destination is not relayed until a new streamKey is sent.
   */
  async openKeys(): Promise<void> {
    const rows = this.host.sql.exec<Pick<DestinationRow, 'id' | 'stream_key'>>('SELECT id, stream_key FROM destinations').toArray();
    // Only stored keys stay in memory (a replaced key, a refused create's sealed one go): at most one per destination
    // plus the few being written.
    const stored = new Set(rows.map(openedKey));
    for (const entry of this.opened.keys()) if (!stored.has(entry)) this.opened.delete(entry);
    const closed = rows.filter((row) => !this.opened.has(openedKey(row)));
    if (closed.length === 0) return;
    const cipher = await this.keyCipher();
    for (const row of closed) {
      const key = await openStreamKey(cipher, row.id, row.stream_key);
      if (key === null) log('destination_key_unreadable', { destinationId: row.id });
      else this.opened.set(openedKey(row), key);
    }
  }

  /** A key sealed for a destination (a new one: destinationId absent), before the write that stores it. */
  async sealKey(streamKey: string, destinationId: string = newId('dst', 16)): Promise<SealedKey> {
    const stored = await sealStreamKey(await this.keyCipher(), destinationId, streamKey);
    this.opened.set(openedKey({ id: destinationId, stream_key: stored }), streamKey);
    return { destinationId, streamKey, stored };
  }

  /** The opened key of a row, or null when it did not open. */
  private keyOf(row: Pick<DestinationRow, 'id' | 'stream_key'>): string | null {
    return this.opened.get(openedKey(row)) ?? (isSealed(row.stream_key) ? null : row.stream_key);
  }

  private rows(): DestinationRow[] {
    return this.host.sql.exec<DestinationRow>('SELECT * FROM destinations ORDER BY created_at, id').toArray();
  }

  private row(id: string): DestinationRow | undefined {
    return this.host.sql.exec<DestinationRow>('SELECT * FROM destinations WHERE id = ?', id).toArray()[0];
  }

  /** The targets the session holder relays: every enabled destination whose key opens. */
  async targets(): Promise<SimulcastTarget[]> {
    await this.openKeys();
    return this.rows().flatMap((row) => {
      const key = row.enabled === 1 ? this.keyOf(row) : null;
      return key === null ? [] : [targetOf(row, key)];
    });
  }

  /**
   * What the targets are made of, without opening keys: a stored key changes only with its value (an unchanged key is
   * never sealed again), so equal fingerprints mean equal targets.
   */
  private targetsFingerprint(): string {
    return JSON.stringify(this.rows().filter((row) => row.enabled === 1).map((row) => [row.id, row.url, row.stream_key, row.rendition, row.revision]));
  }

  list(doc: StreamDocument): Destination[] {
    return this.rows().map((row) => destinationView(row, doc.streamId, broadcastSessionId(doc)));
  }

  get(doc: StreamDocument, id: string): Destination | null {
    const row = this.row(id);
    return row ? destinationView(row, doc.streamId, broadcastSessionId(doc)) : null;
  }

  /** `sealed`: the request's streamKey sealed by sealKey() for a new destination (its id is the new destination's). */
  create(doc: StreamDocument, request: CreateDestinationRequest, sealed: SealedKey, hostRules: DestinationHostRules, now: number): DestinationResult {
    if (this.rows().length >= MAX_DESTINATIONS_PER_STREAM) {
      const detail = `a stream has at most ${MAX_DESTINATIONS_PER_STREAM} destinations; delete one first`;
      return { ok: false, code: 'invalid', detail, errors: [{ field: '(body)', message: detail }] };
    }
    const resolved = resolveDestination(null, request, doc.settings, hostRules);
    if (!resolved.ok) return invalid(resolved.errors);
    const f = resolved.fields;
    if (sealed.streamKey !== f.streamKey) throw new Error('create: the sealed key is not the request key');
    const id = sealed.destinationId;
    this.changingTargets(doc, () =>
      this.host.sql.exec(
        `INSERT INTO destinations (id, name, platform, url, stream_key, rendition, enabled, revision, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`,
        id, f.name, f.platform, f.url, sealed.stored, f.rendition, f.enabled ? 1 : 0, now, now,
      ),
    );
    return { ok: true, destination: this.get(doc, id)! };
  }

  /**
   * `sealed`: the patch's streamKey sealed by sealKey() for this destination (null without one); openKeys() ran
   * before, so the stored key is at hand (the platform check and the restart rule read it).
   */
  update(doc: StreamDocument, id: string, patch: UpdateDestinationRequest, sealed: SealedKey | null, hostRules: DestinationHostRules, now: number): DestinationResult {
    const row = this.row(id);
    if (!row) return { ok: false, code: 'not_found' };
    const storedKey = this.keyOf(row);
    // A key that no longer opens is no key: the platform check asks for a new one.
    const resolved = resolveDestination(fieldsOf(row, storedKey ?? ''), patch, doc.settings, hostRules);
    if (!resolved.ok) return invalid(resolved.errors);
    const f = resolved.fields;
    const keyChanged = f.streamKey !== storedKey;
    if (keyChanged && (sealed === null || sealed.destinationId !== id || sealed.streamKey !== f.streamKey)) {
      throw new Error('update: a changed key must come sealed for its destination');
    }
    const stored = keyChanged ? sealed!.stored : row.stream_key;
    // A new url, key or rendition is a new revision: the holder restarts only this target, and the old one's status
    // reports are ignored from now on.
    const restart = f.url !== row.url || keyChanged || f.rendition !== row.rendition;
    const session = broadcastSessionId(doc);
    if (restart && row.status === 'live' && row.session_id === session) {
      this.host.emit('DESTINATION_DISCONNECTED', session, 'restarted: its url, stream key or rendition changed', id);
    }
    this.changingTargets(doc, () => {
      this.host.sql.exec(
        `UPDATE destinations SET name = ?, platform = ?, url = ?, stream_key = ?, rendition = ?, enabled = ?, updated_at = ?,
           revision = revision + ? WHERE id = ?`,
        f.name, f.platform, f.url, stored, f.rendition, f.enabled ? 1 : 0, now, restart ? 1 : 0, id,
      );
      if (restart) this.host.sql.exec('UPDATE destinations SET status = NULL, last_error = NULL, started_at = NULL WHERE id = ?', id);
    });
    return { ok: true, destination: this.get(doc, id)! };
  }

  remove(doc: StreamDocument, id: string): boolean {
    const row = this.row(id);
    if (!row) return false;
    const session = broadcastSessionId(doc);
    // Its relay's own 'stopped' report will find no destination: the disconnect is said now.
    if (row.status === 'live' && row.session_id === session) this.host.emit('DESTINATION_DISCONNECTED', session, 'destination deleted', id);
    this.changingTargets(doc, () => this.host.sql.exec('DELETE FROM destinations WHERE id = ?', id));
    this.opened.delete(openedKey(row));
    return true;
  }

  /** A deleted stream forgets its destinations' keys at once (its broadcast is over, the relays stop with it). */
  forgetAll(): void {
    this.host.sql.exec('DELETE FROM destinations');
    this.opened.clear();
  }

  /** Runs a write; when the desired targets changed during a broadcast, the holder is owed the new set. */
  private changingTargets(doc: StreamDocument, write: () => void): void {
    const before = this.targetsFingerprint();
    write();
    if (broadcastSessionId(doc) && this.targetsFingerprint() !== before) this.host.owe({ kind: 'destinations_sync' });
  }

  /**
   * The holder's word on one relay (its signer was checked by the caller): only for the current broadcast or the one
   * the destination last reported in (a 'stopped' arriving after the session ended), only for its current revision.
   * Synchronous (inside the origin event's transaction): the caller ran openKeys() first, for the redaction.
   */
  onStatus(doc: StreamDocument, event: DestinationStatusEvent): OriginEventOutcome {
    const { destinationId, revision, status, bytesSent, reconnects } = event.data;
    const row = this.row(destinationId);
    if (!row) return { id: event.id, outcome: 'refused', reason: 'no such destination' };
    const key = this.keyOf(row);
    const error = key === null ? redactPublishPath(event.data.error, row.url) : redactKey(event.data.error, key);
    if (revision !== row.revision) return { id: event.id, outcome: 'refused', reason: `stale revision ${revision} (current ${row.revision})` };
    const current = broadcastSessionId(doc);
    const sameSession = row.session_id === event.sessionId;
    if (!sameSession && event.sessionId !== current) return { id: event.id, outcome: 'refused', reason: 'not the current session' };
    const previous = sameSession ? row.status : null;
    const at = Date.parse(event.at);
    const startedAt = status === 'live' && previous !== 'live' ? (sameSession ? row.started_at ?? at : at) : sameSession ? row.started_at : null;
    this.host.sql.exec(
      `UPDATE destinations SET session_id = ?, status = ?, last_error = ?, started_at = ?, bytes_sent = ?, reconnects = ? WHERE id = ?`,
      event.sessionId,
      status,
      error ?? (sameSession ? row.last_error : null),
      startedAt,
      bytesSent,
      reconnects,
      destinationId,
    );
    const webhook = statusWebhook(previous, status, error);
    if (webhook) this.host.emit(webhook.event, event.sessionId, webhook.reason, destinationId);
    log('destination_status', { streamId: doc.streamId, sessionId: event.sessionId, destinationId, revision, status, previous, webhook: webhook?.event ?? null });
    return { id: event.id, outcome: 'applied' };
  }

  /**
   * The owed sync: the full desired set to the origin holding the session (read now, so a failover's new holder gets
   * it). Done when it took it, when it refused the command itself (400: a retry would not change that), or when there
   * is no broadcast any more; retried with backoff otherwise — a 404 included: the holder may not have set the session
   * up yet (a destination added just after authorize), and the broadcast's end stops the retries.
   */
  async send(doc: StreamDocument): Promise<boolean> {
    const session = doc.lifecycle.session;
    if (!session || !broadcastSessionId(doc) || doc.lifecycle.deleted) return true;
    const command: DestinationsCommand = { streamId: doc.streamId, sessionId: session.id, targets: await this.targets() };
    const status = await commandOrigin(this.host.env(), session.originId, session.originUrl, '/control/destinations', command);
    // Never the command itself: its URLs carry the stream keys.
    log('destinations_sent', { streamId: doc.streamId, sessionId: session.id, originId: session.originId, targets: command.targets.length, status });
    return (status >= 200 && status < 300) || (status >= 400 && status < 500 && status !== 404 && status !== 408 && status !== 429);
  }
}

/** Where a row's opened key is kept: its destination and its stored value (a value copied onto another row does not count). */
const openedKey = (row: Pick<DestinationRow, 'id' | 'stream_key'>): string => `${row.id}\n${row.stream_key}`;

function invalid(errors: FieldError[]): DestinationResult {
  return { ok: false, code: 'invalid', detail: errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors };
}
