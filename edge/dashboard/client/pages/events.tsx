// Live events (issue 12): the list, a simple create, and an event's page with its control operations (each confirmed),
// playback URLs, preview and its activities.
/** @jsxImportSource hono/jsx/dom */
import { useState } from 'hono/jsx/dom';
import type { components } from '../../../../shared/client/index.ts';
import { ApiProblem, asProblem, call, type RiverheadClient } from '../api.ts';
import { IngestSettings } from '../ingest-settings.tsx';
import { navigate } from '../router.ts';
import { Badge, ConfirmButton, CopyField, Link, ListTable, Loaded, ProblemBanner, Section, When } from '../ui.tsx';
import { usePoll } from '../use-poll.ts';

type LiveEvent = components['schemas']['LiveEvent'];
type Ingest = components['schemas']['Ingest'];
type Operation = NonNullable<LiveEvent['allowedOperations'][number]>;

/** Events created in this page load: their create answer is the only one with the stream key, shown on their page. */
const justCreated = new Map<string, Ingest>();

export function EventsPage({ client }: { client: RiverheadClient }) {
  const events = usePoll(async () => (await call(client.GET('/v1/live/events', { params: { query: { limit: 100 } } }))).data, 5000, []);
  const [creating, setCreating] = useState(false);
  return (
    <>
      <div class="page-head">
        <h1>Live events</h1>
        <button type="button" class="primary" onClick={() => setCreating(!creating)}>
          {creating ? 'Close' : 'New event'}
        </button>
      </div>
      {creating ? <CreateEvent client={client} /> : null}
      <Section title="Events">
        <ListTable
          polled={events}
          empty="No live events yet."
          heads={['Name', 'Status']}
          wide={['Type', 'Starts']}
          row={(e) => (
            <tr>
              <td>
                <Link href={`/dashboard/events/${e.eventId}`}>{e.name ?? e.eventId}</Link>
              </td>
              <td>
                <Badge value={e.status} />
              </td>
              <td class="wide">{e.type.replace('LIVE_TYPE_', '').toLowerCase()}</td>
              <td class="wide">
                <When at={e.scheduledStartAt} />
              </td>
            </tr>
          )}
        />
      </Section>
    </>
  );
}

function CreateEvent({ client }: { client: RiverheadClient }) {
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setProblem(null);
    const start = String(form.get('scheduledStartAt') ?? '');
    try {
      const { data } = await call(
        client.POST('/v1/live/events', {
          body: {
            name: String(form.get('name') ?? '').trim() || undefined,
            type: 'LIVE_TYPE_LIVE',
            broadcastMode: form.get('broadcastMode') as LiveEvent['broadcastMode'],
            resolution: form.get('resolution') as LiveEvent['resolution'],
            security: { accessPolicy: form.get('accessPolicy') as 'public' | 'private', allowedDomains: [] },
            ullEnabled: form.get('ullEnabled') === 'on',
            scheduledStartAt: start ? new Date(start).toISOString() : new Date().toISOString(),
          },
        }),
      );
      if (data.ingest) justCreated.set(data.eventId, data.ingest as Ingest);
      navigate(`/dashboard/events/${data.eventId}`);
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  return (
    <Section title="New live event">
      <form class="form" onSubmit={submit}>
        <label>
          Name
          <input name="name" maxLength={200} />
        </label>
        <div class="row">
          <label>
            Starts
            <input name="scheduledStartAt" type="datetime-local" />
          </label>
          <label>
            Mode
            <select name="broadcastMode">
              <option value="BROADCAST_MODE_TRADITIONAL_LIVE">Live</option>
              <option value="BROADCAST_MODE_DVR">Live with DVR</option>
              <option value="BROADCAST_MODE_PLAYBACK">Playback</option>
            </select>
          </label>
          <label>
            Resolution
            <select name="resolution">
              {['1080p', '720p', '480p', '360p', '1440p', '2160p'].map((r) => (
                <option value={r}>{r}</option>
              ))}
            </select>
          </label>
          <label>
            Playback
            <select name="accessPolicy">
              <option value="public">Public</option>
              <option value="private">Private</option>
            </select>
          </label>
        </div>
        <label class="check">
          <input name="ullEnabled" type="checkbox" /> Low latency
        </label>
        <ProblemBanner problem={problem} />
        <button type="submit" class="primary">
          Create event
        </button>
      </form>
    </Section>
  );
}

const OPERATION_QUESTIONS: Record<Operation, string> = {
  preview: 'Open the preview (rehearsal)?',
  start: 'Go live for viewers now?',
  end: 'End the live part now?',
  cancel: 'Cancel this event?',
  archive: 'Archive this event?',
  reopen: 'Reopen this event?',
};

export function EventPage({ client, eventId }: { client: RiverheadClient; eventId: string }) {
  const path = { params: { path: { eventId } } };
  const event = usePoll(async () => (await call(client.GET('/v1/live/events/{eventId}', path))).data, 3000, [eventId]);
  const operate = (op: Operation) => async () => {
    const url = `/v1/live/events/{eventId}/${op}` as '/v1/live/events/{eventId}/start';
    await call(client.POST(url, { ...path, body: {} }));
    await event.reload();
  };
  return (
    <Loaded
      polled={event}
      render={(e) => (
        <>
          <div class="page-head">
            <div>
              <p class="crumbs">
                <Link href="/dashboard/events">Live events</Link> /
              </p>
              <h1>
                {e.name ?? e.eventId} <Badge value={e.status} />
              </h1>
              <p class="muted">
                <code>{e.eventId}</code> · stream <Link href={`/dashboard/streams/${e.streamId}`}>{e.streamId}</Link>
              </p>
            </div>
            <div class="actions">
              {e.allowedOperations
                .filter((op): op is Operation => op !== null && op !== 'reopen')
                .map((op) => (
                  <ConfirmButton label={op[0]!.toUpperCase() + op.slice(1)} question={OPERATION_QUESTIONS[op]} action={operate(op)} danger={op === 'cancel'} />
                ))}
              <ConfirmButton
                label="Delete"
                danger
                question="Delete this event?"
                action={async () => {
                  await call(client.DELETE('/v1/live/events/{eventId}', path));
                  navigate('/dashboard/events');
                }}
              />
            </div>
          </div>
          <div class="columns">
            <Section title="Playback">
              <CopyField label="Public" value={new URL(e.playbackUrls.public, location.origin).toString()} />
              <CopyField label="Preview" value={new URL(e.playbackUrls.preview, location.origin).toString()} />
              <dl class="facts">
                <dt>Starts</dt>
                <dd>
                  <When at={e.scheduledStartAt} />
                </dd>
                <dt>Ends</dt>
                <dd>
                  <When at={e.scheduledEndAt} />
                </dd>
                <dt>Live</dt>
                <dd>
                  <When at={e.liveStartedAt} /> → <When at={e.liveEndedAt} />
                </dd>
                <dt>VOD</dt>
                <dd>{e.vod.enabled ? 'on' : 'off'}</dd>
              </dl>
            </Section>
            <Section title="Activities">
              <ol class="timeline">
                {[...e.activities].reverse().map((a) => (
                  <li>
                    <When at={a.at} /> <Badge value={a.status} />
                    {a.operation ? <span> via {a.operation}</span> : null}
                    {a.reason ? <span class="muted"> — {a.reason}</span> : null}
                  </li>
                ))}
              </ol>
            </Section>
          </div>
          {e.ingest ? (
            <Section title="Ingest">
              <IngestSettings stream={ingestOf(justCreated.get(e.eventId) ?? (e.ingest as Ingest))} />
            </Section>
          ) : null}
        </>
      )}
    />
  );
}

/** An event's ingest as IngestSettings shows it (the key travels inside its URLs' fields). */
const ingestOf = (ingest: Ingest) => ({ ingest, streamKey: ingest.rtmp.streamKey });
