// The video library (issue 13): videos with their status and progress, an import by URL, and a video's page with its
// player, MP4-less facts and delete.
/** @jsxImportSource hono/jsx/dom */
import { useEffect, useState } from 'hono/jsx/dom';
import { ApiProblem, asProblem, call, type RiverheadClient } from '../api.ts';
import { Player } from '../player.tsx';
import { previewQuery } from '../playback-token.ts';
import { navigate } from '../router.ts';
import { Badge, ConfirmButton, CopyField, Link, ListTable, Loaded, ProblemBanner, Section, When, bytes, seconds } from '../ui.tsx';
import { usePoll } from '../use-poll.ts';

export function VideosPage({ client }: { client: RiverheadClient }) {
  const videos = usePoll(async () => (await call(client.GET('/v1/videos', { params: { query: { limit: 100 } } }))).data, 5000, []);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const importUrl = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setProblem(null);
    try {
      const title = String(form.get('title') ?? '').trim();
      await call(client.POST('/v1/videos/imports', { body: { url: String(form.get('url') ?? ''), ...(title ? { title } : {}) } }));
      (event.target as HTMLFormElement).reset();
      await videos.reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  return (
    <>
      <div class="page-head">
        <h1>Videos</h1>
      </div>
      <Section title="Import from a URL">
        <form class="form row" onSubmit={importUrl}>
          <input name="url" placeholder="https://example.com/talk.mp4" required />
          <input name="title" placeholder="Title" />
          <button type="submit" class="primary">
            Import
          </button>
        </form>
        <ProblemBanner problem={problem} />
      </Section>
      <Section title="Library">
        <ListTable
          polled={videos}
          empty="No videos yet. Upload with the API, import a URL, or record a stream."
          heads={['Title', 'Status']}
          wide={['Source', 'Duration', 'Created']}
          row={(v) => (
            <tr>
              <td>
                <Link href={`/dashboard/videos/${v.videoId}`}>{v.title ?? v.videoId}</Link>
              </td>
              <td>
                <Badge value={v.status} />
                {v.progress !== null && v.status !== 'ready' ? <span class="muted"> {Math.round(v.progress * 100)}%</span> : null}
              </td>
              <td class="wide">{v.source}</td>
              <td class="wide">{seconds(v.duration)}</td>
              <td class="wide">
                <When at={v.createdAt} />
              </td>
            </tr>
          )}
        />
      </Section>
    </>
  );
}

export function VideoPage({ client, videoId }: { client: RiverheadClient; videoId: string }) {
  const path = { params: { path: { videoId } } };
  const video = usePoll(async () => (await call(client.GET('/v1/videos/{videoId}', path))).data, 5000, [videoId]);
  const [src, setSrc] = useState<string | null>(null);
  const playback = video.data?.playbackIds[0];
  const hlsUrl = video.data?.hlsUrl ?? null;
  useEffect(() => {
    if (!playback || !hlsUrl) return;
    let gone = false;
    previewQuery(client, playback).then((query) => !gone && setSrc(hlsUrl + query), () => undefined);
    return () => void (gone = true);
  }, [hlsUrl, playback?.id]);
  return (
    <Loaded
      polled={video}
      render={(v) => (
        <>
          <div class="page-head">
            <div>
              <p class="crumbs">
                <Link href="/dashboard/videos">Videos</Link> /
              </p>
              <h1>
                {v.title ?? v.videoId} <Badge value={v.status} />
              </h1>
              <p class="muted">
                <code>{v.videoId}</code> · {v.source}
                {v.streamId ? (
                  <>
                    {' '}
                    of <Link href={`/dashboard/streams/${v.streamId}`}>{v.streamId}</Link>
                  </>
                ) : null}
              </p>
            </div>
            <div class="actions">
              <ConfirmButton
                label="Delete"
                danger
                question="Delete this video and its media?"
                action={async () => {
                  await call(client.DELETE('/v1/videos/{videoId}', path));
                  navigate('/dashboard/videos');
                }}
              />
            </div>
          </div>
          {v.error ? <div class="problem">{v.error}</div> : null}
          <div class="columns">
            <Section title="Player">{src ? <Player src={src} poster={v.thumbnailUrl ?? undefined} /> : <p class="muted">Plays once ready.</p>}</Section>
            <Section title="Details">
              <dl class="facts">
                <dt>Duration</dt>
                <dd>{seconds(v.duration)}</dd>
                <dt>Size</dt>
                <dd>{bytes(v.size)}</dd>
                <dt>Video</dt>
                <dd>{v.mediaInfo?.video ? `${v.mediaInfo.video.codec} ${v.mediaInfo.video.width}×${v.mediaInfo.video.height}${v.mediaInfo.video.fps ? ` ${v.mediaInfo.video.fps} fps` : ''}` : '—'}</dd>
                <dt>Created</dt>
                <dd>
                  <When at={v.createdAt} />
                </dd>
                <dt>Ready</dt>
                <dd>
                  <When at={v.readyAt} />
                </dd>
              </dl>
              {v.hlsUrl ? <CopyField label="HLS" value={v.hlsUrl} /> : null}
            </Section>
          </div>
        </>
      )}
    />
  );
}
