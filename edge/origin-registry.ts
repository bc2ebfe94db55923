// The origins the edge knows (D1 `origins`, issue 11): who may sign /internal calls and with which secret, what each
// announced about itself, its health, and which one should take work. Secrets are derived from the master key and the
// origin's generation (shared/origin-credentials.ts), never stored; a small per-isolate cache keeps the D1 read off
// every signed call.
import type { Env } from './env.ts';
import { deriveOriginSecret, ORIGIN_ID_PATTERN } from '../shared/origin-credentials.ts';
import { ORIGIN_HEALTHY_WITHIN_MS } from '../shared/schemas/origin-heartbeat.ts';
import type { OriginHealth, OriginListing, OriginPorts, Zone } from '../shared/schemas/origin-registry.ts';

/** A known origin's verdict is reused this long per isolate: a rotation or disable made elsewhere lands within it. */
const KNOWN_TTL_MS = 30_000;
/** An unknown id is remembered more briefly, so a just-provisioned origin is let in soon on every isolate. */
const UNKNOWN_TTL_MS = 5_000;
/** Entries kept at most; random ids sent by strangers cannot grow the map beyond it. */
const CACHE_ENTRIES = 1000;
/** Origins listed at most (a cluster is tens of origins). */
const MAX_ORIGINS = 1000;

export interface OriginIdentity {
  originId: string;
  region: string;
  secret: string;
}

interface CacheEntry {
  master: string;
  identity: OriginIdentity | null;
  until: number;
}

const cache = new Map<string, CacheEntry>();

/** Drops what this isolate remembers of an origin (after rotate or disable here; other isolates follow within 30 s). */
export function forgetOrigin(originId: string): void {
  cache.delete(originId);
}

/** The origin's id, region and current secret; null when unknown or disabled. */
export async function originIdentityFor(env: Pick<Env, 'DB' | 'ORIGIN_SECRET'>, originId: string): Promise<OriginIdentity | null> {
  if (!ORIGIN_ID_PATTERN.test(originId)) return null;
  const now = Date.now();
  const cached = cache.get(originId);
  if (cached && cached.until > now && cached.master === env.ORIGIN_SECRET) return cached.identity;
  const row = await env.DB.prepare('SELECT region, generation FROM origins WHERE id = ? AND disabled_at IS NULL')
    .bind(originId)
    .first<{ region: string; generation: number }>();
  const identity = row
    ? { originId, region: row.region, secret: await deriveOriginSecret(env.ORIGIN_SECRET, originId, row.generation) }
    : null;
  cache.delete(originId);
  if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
  cache.set(originId, { master: env.ORIGIN_SECRET, identity, until: now + (identity ? KNOWN_TTL_MS : UNKNOWN_TTL_MS) });
  return identity;
}

/** The secret an origin signs with (and the edge signs to it with); null = unknown or disabled. */
export async function originSecretFor(env: Pick<Env, 'DB' | 'ORIGIN_SECRET'>, originId: string): Promise<string | null> {
  return (await originIdentityFor(env, originId))?.secret ?? null;
}

/** What an origin said about itself in its latest heartbeat (the `announced` column). */
export interface Announcement {
  ingestHost: string;
  ports: OriginPorts;
  hlsUrl: string;
  controlUrl: string;
  capacity: { units: number };
  load: { units: number; sessions: number };
  draining: boolean;
}

interface OriginRow {
  id: string;
  region: string;
  created_at: string;
  disabled_at: string | null;
  announced: string | null;
  announced_at: number | null;
  session_ids: string | null;
}

function parseAnnouncement(text: string | null): Announcement | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as Announcement;
  } catch {
    return null;
  }
}

export function healthOf(disabled: boolean, heardAt: number | null, now: number): OriginHealth {
  if (disabled) return 'disabled';
  if (heardAt === null) return 'never-heard';
  return now - heardAt <= ORIGIN_HEALTHY_WITHIN_MS ? 'healthy' : 'silent';
}

export interface KnownOrigin extends OriginListing {
  controlUrl: string | null;
}

/** Every origin, enabled or not, with what it last announced and its health at `now`. */
export async function listOrigins(db: D1Database, now: number): Promise<KnownOrigin[]> {
  const { results } = await db
    .prepare(
      `SELECT o.id, o.region, o.created_at, o.disabled_at, o.announced, o.announced_at, h.session_ids
       FROM origins o LEFT JOIN origin_heartbeats h ON h.origin_id = o.id ORDER BY o.region, o.id LIMIT ?`,
    )
    .bind(MAX_ORIGINS)
    .all<OriginRow>();
  return results.map((row) => {
    const announced = parseAnnouncement(row.announced);
    return {
      id: row.id,
      region: row.region,
      ingestHost: announced?.ingestHost ?? null,
      ports: announced?.ports ?? null,
      hlsUrl: announced?.hlsUrl ?? null,
      controlUrl: announced?.controlUrl ?? null,
      capacity: announced?.capacity ?? null,
      load: announced?.load ?? null,
      draining: announced?.draining ?? false,
      lastHeardAt: row.announced_at === null ? null : new Date(row.announced_at).toISOString(),
      health: healthOf(row.disabled_at !== null, row.announced_at, now),
      sessions: row.session_ids ? (JSON.parse(row.session_ids) as string[]) : [],
      createdAt: row.created_at,
      disabledAt: row.disabled_at,
    };
  });
}

const freeUnits = (origin: KnownOrigin): number => (origin.capacity?.units ?? 0) - (origin.load?.units ?? 0);

/** Healthy, not draining, announced (so the edge knows where to reach it). */
const canTakeWork = (origin: KnownOrigin): boolean =>
  origin.health === 'healthy' && !origin.draining && origin.hlsUrl !== null && origin.controlUrl !== null;

/** The origin that should take work (a job, a resumed session): healthy, not draining, most free capacity first. */
export async function pickOrigin(
  env: Pick<Env, 'DB'>,
  options: { region?: string | null; exclude?: string[] } = {},
): Promise<{ originId: string; hlsUrl: string; controlUrl: string } | null> {
  const exclude = new Set(options.exclude ?? []);
  const candidates = (await listOrigins(env.DB, Date.now()))
    .filter((o) => canTakeWork(o) && !exclude.has(o.id) && (!options.region || o.region === options.region))
    .sort((a, b) => freeUnits(b) - freeUnits(a) || a.id.localeCompare(b.id));
  const best = candidates[0];
  return best ? { originId: best.id, hlsUrl: best.hlsUrl!, controlUrl: best.controlUrl! } : null;
}

/**
 * The zones: one per region with an enabled origin. Its ingest host is the one most of its healthy origins announce
 * (an origin never heard counts only when none is healthy), null when none announced yet.
 */
export function zonesOf(origins: KnownOrigin[]): Zone[] {
  const byRegion = new Map<string, KnownOrigin[]>();
  for (const origin of origins) {
    if (origin.health === 'disabled') continue;
    byRegion.set(origin.region, [...(byRegion.get(origin.region) ?? []), origin]);
  }
  return [...byRegion].map(([region, members]) => {
    const healthy = members.filter((o) => o.health === 'healthy');
    const announcing = (healthy.length > 0 ? healthy : members).filter((o) => o.ingestHost !== null);
    const votes = new Map<string, number>();
    for (const origin of announcing) votes.set(origin.ingestHost!, (votes.get(origin.ingestHost!) ?? 0) + 1);
    const ingestHost = [...votes].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? null;
    return {
      id: region,
      origins: members.length,
      healthyOrigins: healthy.length,
      hasCapacity: members.some((o) => canTakeWork(o) && freeUnits(o) > 0),
      ingestHost,
    };
  });
}

export async function listZones(db: D1Database, now: number): Promise<Zone[]> {
  return zonesOf(await listOrigins(db, now));
}
