// The embed player's script (bundled by scripts/build-browser-assets.ts, runs in the page edge/browser/embed-page.ts
// serves): plays the playback ID's master playlist with hls.js (loaded before it as window.Hls), or natively where
// MSE is missing and the browser plays HLS itself (Safari on iOS). Live: a LIVE badge, and a jump-to-live button once
// the viewer is more than a few segments behind (DVR). While the stream is offline or the media not ready it shows the
// page's message and asks the edge again with backoff, starting by itself when it can; a refusal stays on screen.
import type HlsType from 'hls.js';
import type { ErrorData, LevelLoadedData } from 'hls.js';
import { playerStatus, WAITING_STATES, type PlayerStatus } from '../player-status.ts';

declare global {
  interface Window {
    Hls?: typeof HlsType;
  }
}

interface PlayerConfig {
  /** the master playlist, with ?token= for a private playback ID */
  src: string;
  status: PlayerStatus;
}

/** Polling while offline: 3 s, doubling to 30 s, for at most 12 hours (then a reload starts over). */
const POLL_FIRST_MS = 3000;
const POLL_MAX_MS = 30_000;
const POLL_FOR_MS = 12 * 3600_000;
/**
 * A live player normally sits a few target durations behind the edge (hls.js's live sync position; Safari's own):
 * further back than this many target durations beyond that shows the jump-to-live button.
 */
const BEHIND_TARGETS = 2;
/** Where Safari's native player is assumed to sit, as hls.js's default: 3 target durations before the edge. */
const NATIVE_SYNC_TARGETS = 3;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const video = $<HTMLVideoElement>('video');
const badge = $('live-badge');
const jump = $<HTMLButtonElement>('jump-live');
const message = $('message');
const config = JSON.parse($('player-config').textContent ?? '{}') as PlayerConfig;

let hls: HlsType | null = null;
let live = false;
let targetDuration = 2;
let pollTimer: ReturnType<typeof setTimeout> | undefined;
/** this page played the stream live: once it is offline again, it has ended (rather than not started) */
let playedLive = false;
/** the live session being played (its master's URIs are scoped to it: /hls/{playbackId}/{sessionId}/…) */
let session: string | null = null;
/** a session whose playlists closed (#EXT-X-ENDLIST): its master still answers for a while, but it is over */
let endedSession: string | null = null;

const ENDED: PlayerStatus = {
  state: 'offline',
  title: 'The stream has ended',
  detail: 'Thanks for watching. Playback starts again by itself if the stream goes live again.',
};

function show(status: PlayerStatus | null): void {
  document.body.dataset.state = status?.state ?? 'playing';
  message.hidden = status === null;
  if (status) {
    message.querySelector('h1')!.textContent = status.title;
    message.querySelector('p')!.textContent = status.detail;
  }
}

function setLive(isLive: boolean): void {
  live = isLive;
  if (isLive) playedLive = true;
  badge.hidden = !isLive;
  if (!isLive) jump.hidden = true;
}

/** The session a playlist URL belongs to (the path segment after the playback ID), or null. */
function sessionOf(uri: string): string | null {
  return /^\/hls\/[^/]+\/([^/]+)\/.+/.exec(new URL(uri, location.href).pathname)?.[1] ?? null;
}

/** The edge's answer for the master playlist now, as a status; an ended session's master counts as ended. */
async function ask(): Promise<PlayerStatus> {
  try {
    const response = await fetch(config.src, { cache: 'no-store', signal: AbortSignal.timeout(10_000) });
    if (!response.ok) return playerStatus(response.status, await response.json().catch(() => ({})));
    const variant = (await response.text()).split('\n').find((line) => line.trim() && !line.startsWith('#'));
    const answered = variant ? sessionOf(new URL(variant.trim(), new URL(config.src, location.href)).toString()) : null;
    return endedSession !== null && answered === endedSession ? ENDED : playerStatus(response.status);
  } catch {
    return playerStatus(502);
  }
}

/** Shows `status` and asks again with backoff until the master plays (or the status becomes a refusal). */
function waitFor(status: PlayerStatus, startedAt = Date.now(), delay = POLL_FIRST_MS): void {
  show(playedLive && status.state === 'offline' ? ENDED : status);
  clearTimeout(pollTimer);
  if (!WAITING_STATES.includes(status.state) || Date.now() - startedAt > POLL_FOR_MS) return;
  pollTimer = setTimeout(async () => {
    const next = await ask();
    if (next.state === 'playable') start();
    else waitFor(next, startedAt, Math.min(delay * 2, POLL_MAX_MS));
  }, delay);
}

function start(): void {
  show(null);
  const Hls = window.Hls;
  if (Hls?.isSupported()) {
    hls?.destroy();
    hls = new Hls({ lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 90 });
    hls.on(Hls.Events.LEVEL_LOADED, (_event, data: LevelLoadedData) => {
      targetDuration = data.details.targetduration || targetDuration;
      if (data.details.live) session = sessionOf(data.details.url);
      // A live session's playlist closed: the broadcast is over (it plays on to its last segment, then says so).
      else if (live) endedSession = session;
      setLive(data.details.live);
    });
    hls.on(Hls.Events.ERROR, (_event, data: ErrorData) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls?.recoverMediaError();
        return;
      }
      void stop();
    });
    hls.loadSource(config.src);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    // Native HLS (Safari): it reports a live stream as an infinite duration.
    video.src = config.src;
  } else {
    show({ state: 'refused', title: 'This browser cannot play HLS', detail: 'Try a current version of Chrome, Firefox, Edge or Safari.' });
    return;
  }
  video.muted = true; // autoplay needs it; the viewer unmutes with the controls
  void video.play().catch(() => undefined); // blocked autoplay: the controls' play button remains
}

let stopping = false;
/** Playback failed or ended: ask the edge why (ended, went private, origin gone) and wait or explain. */
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  hls?.destroy();
  hls = null;
  video.removeAttribute('src');
  video.load();
  setLive(false);
  const status = await ask();
  stopping = false;
  if (status === ENDED) waitFor(ENDED);
  else if (status.state === 'playable') {
    waitFor({ state: 'unavailable', title: 'Reconnecting', detail: 'Playback stopped; trying again.' });
  } else {
    waitFor(status);
  }
}

/** Where a live viewer is meant to be: hls.js's live sync position, or the native player's equivalent; null if unknown. */
function livePosition(): number | null {
  if (hls) return hls.liveSyncPosition;
  if (!video.seekable.length) return null;
  return Math.max(video.seekable.start(0), video.seekable.end(video.seekable.length - 1) - NATIVE_SYNC_TARGETS * targetDuration);
}

/** Seconds further back than a live viewer is meant to be; 0 when not live or not known. */
function behindLive(): number {
  const position = live ? livePosition() : null;
  return position === null ? 0 : Math.max(0, position - video.currentTime);
}

jump.addEventListener('click', () => {
  const position = livePosition();
  if (position !== null) video.currentTime = position;
  void video.play().catch(() => undefined);
});
// hls.js only speeds up (maxLiveSyncPlaybackRate) when it is already near its target latency: after a stall a live
// viewer could stay 10+ s behind for the rest of the broadcast. A viewer who was at the live edge when the stall
// began is put back at it once playback resumes; one who had rewound (DVR) is left where they chose to be.
let stalledAtLiveEdge = false;
video.addEventListener('waiting', () => {
  stalledAtLiveEdge = live && behindLive() <= BEHIND_TARGETS * targetDuration;
});
video.addEventListener('playing', () => {
  const rejoin = stalledAtLiveEdge && behindLive() > BEHIND_TARGETS * targetDuration;
  stalledAtLiveEdge = false;
  const position = rejoin ? livePosition() : null;
  if (position !== null) video.currentTime = position;
});
video.addEventListener('timeupdate', () => {
  jump.hidden = !live || behindLive() <= BEHIND_TARGETS * targetDuration;
  document.body.dataset.behind = behindLive().toFixed(1);
});
// Native HLS (no hls.js instance): a live stream has an infinite duration; a failure is asked about like hls.js's.
video.addEventListener('loadedmetadata', () => {
  if (!hls) setLive(video.duration === Infinity);
});
video.addEventListener('error', () => {
  if (!hls && video.getAttribute('src')) void stop();
});
video.addEventListener('ended', () => {
  // A VOD that played to its end is just that; a live stream reaching its end (its playlist closed) has ended.
  if (playedLive) void stop();
});

if (config.status.state === 'playable') start();
else waitFor(config.status);
