// One live stream: its controls (enable/disable/complete/reset key/delete, each confirmed), the live preview with the
// clip maker, the current session's health, the activities timeline, sessions, recordings and clips.
/** @jsxImportSource hono/jsx/dom */
import { useEffect, useRef, useState } from 'hono/jsx/dom';
import type { components } from '../../../../shared/client/index.ts';
import { call, type RiverheadClient } from '../api.ts';
import { ClipMaker } from '../clip-maker.tsx';
import { IngestSettings } from '../ingest-settings.tsx';
import { Player, type AttachedPlayer } from '../player.tsx';
import { previewQuery } from '../playback-token.ts';
import { navigate } from '../router.ts';
import { streamName } from '../stream-name.ts';
import { ActionButton, Badge, ConfirmButton, Link, Loaded, ProblemBanner, Section, When, bitrate, bytes, seconds } from '../ui.tsx';
import { usePoll } from '../use-poll.ts';
import { asProblem, type ApiProblem } from '../api.ts';

type LiveStream = components['schemas']['LiveStream'];
type Session = components['schemas']['Session'];
type Recording = components['schemas']['Recording'];

export const STREAM_POLL_MS = 2000;
const LIVE_STATUSES = new Set(['STREAMING', 'RECORDING', 'DISCONNECTED']);

export function StreamPage({ client, streamId }: { client: RiverheadClient; streamId: string }) {
  const path = { params: { path: { streamId } } };
  const stream = usePoll(async () => (await call(client.GET('/v1/live/streams/{streamId}', path))).data, STREAM_POLL_MS, [streamId]);
  const sessions = usePoll(async () => (await call(client.GET('/v1/live/streams/{streamId}/sessions', path))).data, 3000, [streamId]);
  const recordings = usePoll(
    async () => (await call(client.GET('/v1/live/streams/{streamId}/recordings', { params: { path: { streamId }, query: { limit: 20 } } }))).data,
    5000,
    [streamId],
  );
  const clips = usePoll(
    async () => (await call(client.GET('/v1/on-demand/{livestreamId}/live-clips', { params: { path: { livestreamId: streamId }, query: { limit: 20 } } }))).data,
    3000,
    [streamId],
  );
  const [revealed, setRevealed] = useState<LiveStream | null>(null);
  const [player, setPlayer] = useState<AttachedPlayer | null>(null);
  const reloadAll = async () => void (await Promise.all([stream.reload(), sessions.reload()]));

  return (
    <Loaded
      polled={stream}
      render={(s) => {
        const live = LIVE_STATUSES.has(s.status);
        const current = sessions.data?.find((x) => x.id === s.currentSession?.id) ?? null;
        return (
          <>
            <div class="page-head">
              <div>
                <p class="crumbs">
                  <Link href="/dashboard/streams">Live streams</Link> /
                </p>
                <h1>
                  {streamName(s)} <Badge value={s.status} />
                  {s.enabled ? null : <Badge value="disabled" />}
                </h1>
                <p class="muted">
                  <code>{s.streamId}</code> · {s.latencyMode === 'low' ? 'low latency' : 'standard latency'} · {s.playbackIds[0]?.accessPolicy ?? 'public'} ·{' '}
                  {s.record ? 'recorded' : 'not recorded'} · reconnect window {s.reconnectWindow} s
                </p>
              </div>
              <div class="actions">
                {s.enabled ? (
                  <ConfirmButton
                    label="Disable"
                    question="Refuse ingest (a live encoder is disconnected)?"
                    action={() => call(client.PUT('/v1/live/streams/{streamId}/live-disable', path)).then(reloadAll)}
                  />
                ) : (
                  <ConfirmButton label="Enable" question="Accept ingest again?" action={() => call(client.PUT('/v1/live/streams/{streamId}/live-enable', path)).then(reloadAll)} />
                )}
                {live ? (
                  <ConfirmButton label="Complete" question="End the broadcast now?" action={() => call(client.POST('/v1/live/streams/{streamId}/complete', path)).then(reloadAll)} />
                ) : null}
                <ConfirmButton
                  label="Reset key"
                  question="The old key stops working at once. Reset?"
                  action={async () => {
                    setRevealed((await call(client.POST('/v1/live/streams/{streamId}/reset-stream-key', path))).data);
                  }}
                />
                <ConfirmButton
                  label="Delete"
                  danger
                  question="Delete this stream? Its recordings and clips stay."
                  action={async () => {
                    await call(client.DELETE('/v1/live/streams/{streamId}', path));
                    navigate('/dashboard/streams');
                  }}
                />
              </div>
            </div>
            {s.errorReason ? <div class="problem">Error: {s.errorReason}</div> : null}

            <div class="columns">
              <Section title="Preview">
                {live && s.playbackIds[0] ? (
                  <>
                    <Preview client={client} playback={s.playbackIds[0]} sessionId={s.currentSession?.id ?? ''} onAttach={setPlayer} />
                    {s.currentSession ? (
                      <>
                        <h3>Make a clip</h3>
                        <ClipMaker
                          client={client}
                          streamId={s.streamId}
                          sessionId={s.currentSession.id}
                          sessionStartedAt={s.currentSession.startedAt}
                          player={player}
                          onCreated={() => void clips.reload()}
                        />
                      </>
                    ) : null}
                  </>
                ) : (
                  <p class="muted offline">Not live. Publish to the ingest URLs below; the preview starts by itself.</p>
                )}
              </Section>
              <Section title="Session health">
                <Health session={current} live={live} />
              </Section>
            </div>

            <Section title="Ingest">
              <IngestSettings stream={revealed ?? s} />
            </Section>

            <div class="columns">
              <Section title="Activities">
                <ol class="timeline">
                  {[...(s.activities ?? [])].reverse().map((a) => (
                    <li>
                      <When at={a.timestamp} /> <strong>{a.status}</strong> <Badge value={a.streamStatus} />
                      {a.reason ? <span class="muted"> — {a.reason}</span> : null}
                    </li>
                  ))}
                </ol>
              </Section>
              <Section title="Sessions">
                <Loaded polled={sessions} render={(list) => <Sessions sessions={list} />} />
              </Section>
            </div>

            <Section title="Clips">
              <Loaded
                polled={clips}
                render={(list) =>
                  list.length === 0 ? (
                    <p class="muted">No clips yet.</p>
                  ) : (
                    <MediaList
                      client={client}
                      accessPolicy={s.playbackIds[0]?.accessPolicy ?? 'public'}
                      items={list.map((c) => ({
                        id: c.id,
                        playbackId: c.playbackId,
                        title: c.name ?? c.id,
                        status: c.status,
                        detail: `${seconds(c.actualStartTime ?? c.startTime)} → ${seconds(c.actualEndTime ?? c.endTime)} · ${seconds(c.duration)} · ${bytes(c.size)}`,
                        playbackUrl: c.status === 'ready' ? c.playbackUrl : null,
                        mp4Url: c.status === 'ready' ? c.mp4Url : null,
                        error: c.error,
                      }))}
                    />
                  )
                }
              />
            </Section>

            <Section title="Recordings">
              <Loaded
                polled={recordings}
                render={(list) =>
                  list.length === 0 ? (
                    <p class="muted">{s.record ? 'No recordings yet.' : 'Recording is off for this stream.'}</p>
                  ) : (
                    <MediaList client={client} accessPolicy={s.playbackIds[0]?.accessPolicy ?? 'public'} items={list.map(recordingItem)} />
                  )
                }
              />
            </Section>
          </>
        );
      }}
    />
  );
}

function recordingItem(r: Recording) {
  return {
    id: r.id,
    playbackId: r.playbackId,
    title: new Date(r.time).toLocaleString(),
    status: r.recordingStatus,
    detail: `${seconds(r.duration)} · ${bytes(r.size)}${r.exportable ? '' : r.exportProgress !== null ? ` · MP4 ${Math.round(r.exportProgress * 100)}%` : ''}${r.cleaned ? ' · cleaned' : ''}`,
    playbackUrl: r.watchable && !r.cleaned ? r.recordingUrl : null,
    mp4Url: r.exportable ? r.mp4Url : null,
    error: r.error,
  };
}

/**
 * The live preview. A private playback ID plays with a token this session signs, renewed every few minutes (before the
 * ten-minute token expires) and put into every request the player makes, so a long preview never stops for it.
 */
function Preview({
  client,
  playback,
  sessionId,
  onAttach,
}: {
  client: RiverheadClient;
  playback: { id: string; accessPolicy: string };
  sessionId: string;
  onAttach: (player: AttachedPlayer | null) => void;
}) {
  const [src, setSrc] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const query = useRef('');
  useEffect(() => {
    let gone = false;
    setSrc(null);
    setProblem(null);
    const sign = (): Promise<boolean> =>
      previewQuery(client, playback).then(
        (q) => ((query.current = q), true),
        (error) => (!gone && setProblem(asProblem(error)), false),
      );
    void sign().then((signed) => signed && !gone && setSrc(`${location.origin}/hls/${playback.id}/master.m3u8${query.current}`));
    const renew = playback.accessPolicy === 'private' ? setInterval(sign, TOKEN_RENEW_MS) : undefined;
    return () => {
      gone = true;
      clearInterval(renew);
    };
  }, [playback.id, playback.accessPolicy, sessionId]);
  const rewriteUrl = (url: string) => {
    const token = new URLSearchParams(query.current.slice(1)).get('token');
    if (!token) return url;
    const next = new URL(url);
    if (next.searchParams.has('token')) next.searchParams.set('token', token);
    return next.toString();
  };
  return (
    <>
      <ProblemBanner problem={problem} />
      {src ? <Player src={src} live onAttach={onAttach} rewriteUrl={playback.accessPolicy === 'private' ? rewriteUrl : undefined} /> : null}
    </>
  );
}

/** Renewed well before PREVIEW_TOKEN_SECONDS (600 s) run out. */
const TOKEN_RENEW_MS = 5 * 60 * 1000;

function Health({ session, live }: { session: Session | null; live: boolean }) {
  if (!session || !live) return <p class="muted">No broadcast now.</p>;
  const lag = session.lastSeen ? Math.max(0, (Date.now() - session.lastSeen) / 1000) : null;
  return (
    <dl class="facts" data-health={session.isHealthy === null ? 'unknown' : session.isHealthy ? 'healthy' : 'unhealthy'}>
      <dt>Health</dt>
      <dd>{session.isHealthy === null ? <span class="muted">measuring…</span> : session.isHealthy ? <Badge value="healthy" /> : <Badge value="unhealthy" />}</dd>
      <dt>Ingest bitrate</dt>
      <dd>{bitrate(session.ingestRate * 8)}</dd>
      <dt>Outgoing</dt>
      <dd>{bitrate(session.outgoingRate * 8)}</dd>
      <dt>Frame rate</dt>
      <dd data-field="frame-rate">{session.frameRate === null ? <span class="muted">measuring…</span> : `${session.frameRate.toFixed(session.frameRate % 1 ? 2 : 0)} fps`}</dd>
      <dt>Keyframe interval</dt>
      <dd data-field="keyframe-interval">
        {session.keyframeInterval === null ? <span class="muted">measuring…</span> : `${session.keyframeInterval.toFixed(2)} s`}
      </dd>
      <dt>Renditions</dt>
      <dd>{session.profiles?.map((p) => `${p.name} ${p.height}p${p.fps} (keyframe every ${p.gop} s)`).join(', ') ?? 'default ladder'}</dd>
      <dt>Segments</dt>
      <dd>
        {session.sourceSegments} in · {session.transcodedSegments} out · {seconds(session.transcodedSegmentsDuration)}
      </dd>
      <dt>Reconnects</dt>
      <dd>{session.reconnects}</dd>
      <dt>Last report</dt>
      <dd>{lag === null ? '—' : `${lag.toFixed(0)} s ago`}</dd>
      <dt>Issues</dt>
      <dd>{session.issues?.length ? <ul>{session.issues.map((i) => <li>{i}</li>)}</ul> : <span class="muted">none</span>}</dd>
    </dl>
  );
}

function Sessions({ sessions }: { sessions: Session[] }) {
  if (sessions.length === 0) return <p class="muted">No broadcasts yet.</p>;
  return (
    <table class="list">
      <thead>
        <tr>
          <th>Started</th>
          <th>Ended</th>
          <th>Media</th>
          <th class="wide">Recording</th>
        </tr>
      </thead>
      <tbody>
        {sessions.map((x) => (
          <tr>
            <td>
              <When at={x.startedAt} />
            </td>
            <td>{x.endedAt ? <When at={x.endedAt} /> : <Badge value="live" />}</td>
            <td>
              {seconds(x.sourceSegmentsDuration)} · {bytes(x.sourceBytes)}
              {x.reconnects ? ` · ${x.reconnects} reconnects` : ''}
            </td>
            <td class="wide">{x.record ? <Badge value={x.recordingStatus} /> : <span class="muted">off</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface MediaItem {
  id: string;
  /** the item's own playback ID (recordings and clips follow their stream's access policy) */
  playbackId: string;
  title: string;
  status: string;
  detail: string;
  playbackUrl: string | null;
  mp4Url: string | null;
  error: string | null;
}

/**
 * Recordings and clips: status, figures, Play (an inline player) and the MP4 download; a private stream's media get a
 * token this session signs (in the player's and the download's URL).
 */
export function MediaList({ client, items, accessPolicy }: { client: RiverheadClient; items: MediaItem[]; accessPolicy: string }) {
  const [playing, setPlaying] = useState<string | null>(null);
  return (
    <ul class="media-list">
      {items.map((item) => (
        <MediaRow client={client} item={item} accessPolicy={accessPolicy} playing={playing === item.id} toggle={() => setPlaying(playing === item.id ? null : item.id)} />
      ))}
    </ul>
  );
}

function MediaRow({
  client,
  item,
  accessPolicy,
  playing,
  toggle,
}: {
  client: RiverheadClient;
  item: MediaItem;
  accessPolicy: string;
  playing: boolean;
  toggle: () => void;
}) {
  const [query, setQuery] = useState<string | null>(accessPolicy === 'private' ? null : '');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const ready = Boolean(item.playbackUrl || item.mp4Url);
  useEffect(() => {
    if (accessPolicy !== 'private' || !ready) return setQuery('');
    let gone = false;
    previewQuery(client, { id: item.playbackId, accessPolicy })
      .then((q) => !gone && setQuery(q))
      .catch((error) => !gone && setProblem(asProblem(error)));
    return () => void (gone = true);
  }, [item.playbackId, accessPolicy, ready]);
  const signed = (url: string) => (query === null ? null : absolute(url) + query);
  const playUrl = item.playbackUrl ? signed(item.playbackUrl) : null;
  const mp4Url = item.mp4Url ? signed(item.mp4Url) : null;
  return (
        <li data-media-id={item.id} data-status={item.status}>
          <div class="media-row">
            <span class="title">{item.title}</span>
            <Badge value={item.status} />
            <span class="muted">{item.detail}</span>
            <span class="actions">
              {playUrl ? <ActionButton label={playing ? 'Close' : 'Play'} action={async () => toggle()} /> : null}
              {mp4Url ? (
                <a class="button" href={mp4Url} download>
                  MP4
                </a>
              ) : null}
            </span>
          </div>
          {item.error ? <p class="problem">{item.error}</p> : null}
          <ProblemBanner problem={problem} />
          {playing && playUrl ? <Player src={playUrl} /> : null}
        </li>
  );
}

const absolute = (url: string): string => new URL(url, location.origin).toString();
