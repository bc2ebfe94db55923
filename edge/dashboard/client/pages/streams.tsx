// Live streams: the list (its status updating by itself), a status filter, and the create form that shows the
// encoder settings once.
/** @jsxImportSource hono/jsx/dom */
import { useState } from 'hono/jsx/dom';
import { STREAM_STATUSES } from '../../../../shared/lifecycle-vocabulary.ts';
import type { components } from '../../../../shared/client/index.ts';
import { ApiProblem, asProblem, call, type RiverheadClient } from '../api.ts';
import { IngestSettings } from '../ingest-settings.tsx';
import { parseMetadata, streamName } from '../stream-name.ts';
import { Badge, Link, ListTable, ProblemBanner, Section, StatusFilter, When } from '../ui.tsx';
import { usePoll } from '../use-poll.ts';

type LiveStream = components['schemas']['LiveStream'];
type StreamStatus = components['schemas']['StreamStatus'];

/** How often the list asks again, so a status change shows without a reload. */
export const STREAM_LIST_POLL_MS = 2000;

export function StreamsPage({ client, status }: { client: RiverheadClient; status: string | null }) {
  const filter = (STREAM_STATUSES as readonly string[]).includes(status ?? '') ? (status as StreamStatus) : undefined;
  const streams = usePoll(
    async () => (await call(client.GET('/v1/live/streams', { params: { query: { limit: 100, ...(filter ? { status: filter } : {}) } } }))).data,
    STREAM_LIST_POLL_MS,
    [filter],
  );
  const [created, setCreated] = useState<LiveStream | null>(null);
  const [creating, setCreating] = useState(false);
  return (
    <>
      <div class="page-head">
        <h1>Live streams</h1>
        <button type="button" class="primary" onClick={() => (setCreating(!creating), setCreated(null))}>
          {creating ? 'Close' : 'New stream'}
        </button>
      </div>
      {creating && !created ? (
        <CreateStream
          client={client}
          onCreated={(stream) => {
            setCreated(stream);
            void streams.reload();
          }}
        />
      ) : null}
      {created ? (
        <Section
          title={`Created: ${streamName(created)}`}
          actions={
            <Link href={`/dashboard/streams/${created.streamId}`} class="button">
              Open stream
            </Link>
          }
        >
          <IngestSettings stream={created} />
        </Section>
      ) : null}
      <Section
        title="Streams"
        actions={
          <StatusFilter
            statuses={STREAM_STATUSES}
            value={filter}
            to={(value) => (value ? `/dashboard/streams?status=${value}` : '/dashboard/streams')}
          />
        }
      >
        <ListTable
          polled={streams}
          empty={`No streams${filter ? ` with status ${filter}` : ''} yet.`}
          heads={['Name', 'Status']}
          wide={['Stream id', 'Created']}
          row={(s) => (
            <tr data-stream-id={s.streamId}>
              <td>
                <Link href={`/dashboard/streams/${s.streamId}`}>{streamName(s)}</Link>
                {s.enabled ? null : <span class="muted"> (disabled)</span>}
              </td>
              <td>
                <Badge value={s.status} />
              </td>
              <td class="wide">
                <code>{s.streamId}</code>
              </td>
              <td class="wide">
                <When at={s.createdAt} />
              </td>
            </tr>
          )}
        />
      </Section>
    </>
  );
}

function CreateStream({ client, onCreated }: { client: RiverheadClient; onCreated: (stream: LiveStream) => void }) {
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setProblem(null);
    let metadata: Record<string, string>;
    try {
      metadata = parseMetadata(String(form.get('metadata') ?? ''));
    } catch (error) {
      setProblem(new ApiProblem('Invalid metadata', (error as Error).message, null));
      return;
    }
    const name = String(form.get('name') ?? '').trim();
    if (name) metadata.name = name;
    setBusy(true);
    try {
      const { data } = await call(
        client.POST('/v1/live/streams', {
          body: {
            metadata,
            record: form.get('record') === 'on',
            reconnectWindow: Number(form.get('reconnectWindow')),
            accessPolicy: form.get('accessPolicy') as 'public' | 'private',
            latencyMode: form.get('latencyMode') as 'standard' | 'low',
            playlistWindow: form.get('playlistWindow') as 'sliding' | 'dvr',
          },
        }),
      );
      onCreated(data);
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="New live stream">
      <form class="form" onSubmit={submit}>
        <label>
          Name
          <input name="name" placeholder="Launch keynote" maxLength={512} />
        </label>
        <label>
          Metadata <span class="muted">(key=value per line)</span>
          <textarea name="metadata" rows={2} placeholder="team=events" />
        </label>
        <div class="row">
          <label>
            Reconnect window (s)
            <input name="reconnectWindow" type="number" min={0} max={1800} value="60" />
          </label>
          <label>
            Latency
            <select name="latencyMode">
              <option value="standard">Standard</option>
              <option value="low">Low (LL-HLS)</option>
            </select>
          </label>
          <label>
            Playback
            <select name="accessPolicy">
              <option value="public">Public</option>
              <option value="private">Private (signed tokens)</option>
            </select>
          </label>
          <label>
            Live window
            <select name="playlistWindow">
              <option value="sliding">Last 60 s</option>
              <option value="dvr">Whole session (DVR)</option>
            </select>
          </label>
        </div>
        <label class="check">
          <input name="record" type="checkbox" /> Record each broadcast
        </label>
        <ProblemBanner problem={problem} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create stream'}
        </button>
      </form>
    </Section>
  );
}
