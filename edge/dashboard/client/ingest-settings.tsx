// Where an encoder sends a stream: RTMP/RTMPS/SRT URLs, OBS's two fields and an ffmpeg line, each copyable. The key
// and SRT passphrase exist only in a create or reset answer; they stay hidden until revealed.
/** @jsxImportSource hono/jsx/dom */
import type { components } from '../../../shared/client/index.ts';
import { CopyField } from './ui.tsx';

type LiveStream = components['schemas']['LiveStream'];

/** Pure: the ffmpeg command that publishes a file to this stream (OBS-like H.264 with 2 s keyframes, AAC). */
export function ffmpegCommand(rtmpUrl: string): string {
  return `ffmpeg -re -i input.mp4 -c:v libx264 -preset veryfast -b:v 3000k -g 60 -keyint_min 60 -c:a aac -b:a 128k -f flv "${rtmpUrl}"`;
}

export function IngestSettings({ stream }: { stream: Pick<LiveStream, 'ingest' | 'streamKey'> }) {
  const { rtmp, rtmps, srt } = stream.ingest;
  const key = stream.streamKey;
  return (
    <div class="ingest">
      {key ? (
        <p class="notice">
          The stream key and SRT passphrase are shown <strong>only now</strong>. Copy them to your encoder; reset the key
          if they leak.
        </p>
      ) : (
        <p class="muted">The stream key was shown once, when the stream was created or its key reset.</p>
      )}
      <h3>OBS (Settings → Stream → Service: Custom)</h3>
      <CopyField label="Server" value={rtmp.serverUrl} />
      {key ? <CopyField label="Stream key" value={key} secret /> : null}
      <h3>RTMP / RTMPS</h3>
      <CopyField label="RTMP URL" value={rtmp.url} secret={Boolean(key)} />
      <CopyField label="RTMPS URL" value={rtmps.url} secret={Boolean(key)} />
      <h3>SRT (caller)</h3>
      <CopyField label="SRT URL" value={srt.url} secret={Boolean(srt.passphrase)} />
      <CopyField label="Host:port" value={`${srt.host}:${srt.port}`} />
      {srt.passphrase ? <CopyField label="Passphrase" value={srt.passphrase} secret /> : null}
      <CopyField label="Latency" value={`${srt.latency} ms`} />
      {key ? (
        <>
          <h3>ffmpeg</h3>
          <CopyField label="Command" value={ffmpegCommand(rtmp.url)} secret />
        </>
      ) : null}
    </div>
  );
}
