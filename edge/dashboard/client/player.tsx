// An HLS player for previews, recordings and clips: hls.js over MSE (native HLS where the browser has it, e.g. Safari),
// muted autoplay, fatal errors shown in words; the clip maker reads the position through `onAttach`.
/** @jsxImportSource hono/jsx/dom */
import type Hls from 'hls.js';
import { useEffect, useRef, useState } from 'hono/jsx/dom';

/** hls.js as the page loaded it (/assets/hls-….js, shared with the embed player, defines window.Hls). */
const HlsPlayer = (): typeof Hls | undefined => (window as unknown as { Hls?: typeof Hls }).Hls;

const MAX_RESTARTS = 40;

export interface AttachedPlayer {
  video: HTMLVideoElement;
  /** null when the browser plays HLS natively */
  hls: Hls | null;
}

export function Player({
  src,
  live = false,
  poster,
  onAttach,
  rewriteUrl,
}: {
  src: string;
  live?: boolean;
  poster?: string;
  onAttach?: (player: AttachedPlayer | null) => void;
  /** applied to every URL hls.js loads (a private preview puts its newest token in) */
  rewriteUrl?: (url: string) => string;
}) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const [failure, setFailure] = useState<string | null>(null);
  // A fatal error starts the player over after a backoff (1, 2, 4, 8 s, then every 8 s, at most MAX_RESTARTS times):
  // a live playlist answers 404 for the first seconds of a broadcast, and an origin may be replaced mid-stream.
  const [restarts, setRestarts] = useState(0);
  useEffect(() => setRestarts(0), [src]);
  useEffect(() => {
    const video = videoRef.current;
    if (!video) return;
    let hls: Hls | null = null;
    let restartTimer: ReturnType<typeof setTimeout> | undefined;
    const HlsClass = HlsPlayer();
    if (HlsClass?.isSupported()) {
      hls = new HlsClass({
        liveDurationInfinity: live,
        backBufferLength: 30,
        // Opening the request here is how hls.js lets the URL change (it then skips its own open).
        ...(rewriteUrl ? { xhrSetup: (xhr: XMLHttpRequest, url: string) => xhr.open('GET', rewriteUrl(url), true) } : {}),
      });
      hls.on(HlsClass.Events.ERROR, (_event, data) => {
        if (!data.fatal) return;
        const status = data.response?.code ? ` (HTTP ${data.response.code})` : '';
        const notYet = data.details === 'manifestLoadError' && data.response?.code === 404;
        setFailure(notYet ? 'Waiting for the first segments…' : `Playback stopped: ${data.details}${status}`);
        hls?.destroy();
        hls = null;
        if (restarts < MAX_RESTARTS) restartTimer = setTimeout(() => setRestarts(restarts + 1), Math.min(8000, 1000 * 2 ** restarts));
      });
      hls.on(HlsClass.Events.FRAG_BUFFERED, () => setFailure(null));
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = src;
    } else {
      setFailure('This browser cannot play HLS (no Media Source Extensions).');
    }
    void video.play().catch(() => undefined); // autoplay may need a click; the controls are there
    onAttach?.({ video, hls });
    return () => {
      clearTimeout(restartTimer);
      onAttach?.(null);
      hls?.destroy();
      video.removeAttribute('src');
      video.load();
    };
  }, [src, restarts]);
  return (
    <div class="player">
      <video ref={videoRef} controls muted playsinline autoplay poster={poster} />
      {failure ? <p class="player-failure">{failure}</p> : null}
    </div>
  );
}
