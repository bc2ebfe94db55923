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
/** Behind the live edge by more than this many target durations shows the jump-to-live button. */
const BEHIND_TARGETS = 3;

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
  badge.hidden = !isLive;
  if (!isLive) jump.hidden = true;
}

/** The edge's answer for the master playlist now, as a status. */
async function ask(): Promise<PlayerStatus> {
  try {
    const response = await fetch(config.src, { cache: 'no-store', signal: AbortSignal.timeout(10_000) });
    const problem = response.ok ? {} : await response.json().catch(() => ({}));
    return playerStatus(response.status, problem);
  } catch {
    return playerStatus(502);
  }
}

/** Shows `status` and asks again with backoff until the master plays (or the status becomes a refusal). */
function waitFor(status: PlayerStatus, startedAt = Date.now(), delay = POLL_FIRST_MS): void {
  show(status);
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
    hls = new Hls({ lowLatencyMode: true, backBufferLength: 90 });
    hls.on(Hls.Events.LEVEL_LOADED, (_event, data: LevelLoadedData) => {
      targetDuration = data.details.targetduration || targetDuration;
      setLive(data.details.live);
    });
    hls.on(Hls.Events.ERROR, (_event, data: ErrorData) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        hls?.recoverMediaError();
        return;
      }
      stop();
    });
    hls.loadSource(config.src);
    hls.attachMedia(video);
  } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
    // Native HLS (Safari): it reports a live stream as an infinite duration.
    video.src = config.src;
    video.addEventListener('loadedmetadata', () => setLive(video.duration === Infinity));
    video.addEventListener('error', () => stop());
  } else {
    show({ state: 'refused', title: 'This browser cannot play HLS', detail: 'Try a current version of Chrome, Firefox, Edge or Safari.' });
    return;
  }
  video.muted = true; // autoplay needs it; the viewer unmutes with the controls
  void video.play().catch(() => undefined); // blocked autoplay: the controls' play button remains
}

/** Playback failed or ended: ask the edge why (ended, went private, origin gone) and wait or explain. */
async function stop(): Promise<void> {
  hls?.destroy();
  hls = null;
  video.removeAttribute('src');
  video.load();
  setLive(false);
  const status = await ask();
  if (status.state === 'playable') {
    waitFor({ state: 'unavailable', title: 'Reconnecting', detail: 'Playback stopped; trying again.' });
  } else {
    waitFor(status);
  }
}

/** Seconds behind the live edge; 0 when not live or not known. */
function behindLive(): number {
  if (!live) return 0;
  const edge = hls ? hls.liveSyncPosition : video.seekable.length ? video.seekable.end(video.seekable.length - 1) : null;
  return edge === null || edge === undefined ? 0 : Math.max(0, edge - video.currentTime);
}

jump.addEventListener('click', () => {
  const edge = hls?.liveSyncPosition ?? (video.seekable.length ? video.seekable.end(video.seekable.length - 1) : null);
  if (edge !== null && edge !== undefined) video.currentTime = edge;
  void video.play().catch(() => undefined);
});
video.addEventListener('timeupdate', () => {
  jump.hidden = !live || behindLive() <= BEHIND_TARGETS * targetDuration;
  document.body.dataset.behind = behindLive().toFixed(1);
});
video.addEventListener('ended', () => {
  // A VOD that played to its end is just that; a live stream reaching its end has ended.
  if (live) show({ state: 'offline', title: 'The stream has ended', detail: 'Thanks for watching.' });
});

if (config.status.state === 'playable') start();
else waitFor(config.status);
