// Simulcast destinations (issue 14) of each live stream: their live status, add one (the key is write-only), enable,
// disable and delete.
/** @jsxImportSource hono/jsx/dom */
import { useState } from 'hono/jsx/dom';
import { DESTINATION_PLATFORMS } from '../../../../shared/destination-platforms.ts';
import { ApiProblem, asProblem, call, type RiverheadClient } from '../api.ts';
import { navigate } from '../router.ts';
import { streamName } from '../stream-name.ts';
import { ActionButton, Badge, ConfirmButton, ListTable, Loaded, ProblemBanner, Section, bytes } from '../ui.tsx';
import { usePoll } from '../use-poll.ts';

export function DestinationsPage({ client, streamId }: { client: RiverheadClient; streamId: string | null }) {
  const streams = usePoll(async () => (await call(client.GET('/v1/live/streams', { params: { query: { limit: 100 } } }))).data, null, []);
  const chosen = streamId ?? streams.data?.[0]?.streamId ?? null;
  return (
    <>
      <div class="page-head">
        <h1>Destinations</h1>
        <Loaded
          polled={streams}
          render={(list) =>
            list.length ? (
              <label class="inline">
                Stream{' '}
                <select name="stream" onChange={(e: Event) => navigate(`/dashboard/destinations?stream=${(e.target as HTMLSelectElement).value}`)}>
                  {list.map((s) => (
                    <option value={s.streamId} selected={s.streamId === chosen}>
                      {streamName(s)}
                    </option>
                  ))}
                </select>
              </label>
            ) : (
              <p class="muted">Create a live stream first.</p>
            )
          }
        />
      </div>
      {chosen ? <StreamDestinations client={client} streamId={chosen} /> : null}
    </>
  );
}

export function StreamDestinations({ client, streamId }: { client: RiverheadClient; streamId: string }) {
  const path = { params: { path: { streamId } } };
  const destinations = usePoll(async () => (await call(client.GET('/v1/live/streams/{streamId}/destinations', path))).data, 3000, [streamId]);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const add = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setProblem(null);
    try {
      const url = String(form.get('url') ?? '').trim();
      const name = String(form.get('name') ?? '').trim();
      await call(
        client.POST('/v1/live/streams/{streamId}/destinations', {
          ...path,
          body: {
            platform: form.get('platform') as (typeof DESTINATION_PLATFORMS)[number],
            streamKey: String(form.get('streamKey') ?? ''),
            rendition: String(form.get('rendition') ?? '').trim() || 'source',
            ...(url ? { url } : {}),
            ...(name ? { name } : {}),
          },
        }),
      );
      (event.target as HTMLFormElement).reset();
      await destinations.reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  const one = (destinationId: string) => ({ params: { path: { streamId, destinationId } } });
  return (
    <>
      <Section title="Destinations">
        <ListTable
          polled={destinations}
          empty="No destinations: this stream is not restreamed anywhere."
          heads={['Name', 'Status']}
          wide={['Server', 'Sent']}
          actions
          row={(d) => (
            <tr>
              <td>
                {d.name} <span class="muted">({d.platform}, {d.rendition})</span>
                {d.lastError ? <p class="problem">{d.lastError}</p> : null}
              </td>
              <td>
                <Badge value={d.status} />
              </td>
              <td class="wide">
                <code>{d.url}</code>
              </td>
              <td class="wide">
                {bytes(d.bytesSent)}
                {d.reconnects ? ` · ${d.reconnects} reconnects` : ''}
              </td>
              <td class="actions">
                <ActionButton
                  label={d.enabled ? 'Disable' : 'Enable'}
                  action={async () => {
                    await call(client.PATCH('/v1/live/streams/{streamId}/destinations/{destinationId}', { ...one(d.destinationId), body: { enabled: !d.enabled } }));
                    await destinations.reload();
                  }}
                />
                <ConfirmButton
                  label="Delete"
                  danger
                  question="Delete?"
                  action={async () => {
                    await call(client.DELETE('/v1/live/streams/{streamId}/destinations/{destinationId}', one(d.destinationId)));
                    await destinations.reload();
                  }}
                />
              </td>
            </tr>
          )}
        />
      </Section>
      <Section title="Add a destination">
        <form class="form" onSubmit={add}>
          <div class="row">
            <label>
              Platform
              <select name="platform">
                {DESTINATION_PLATFORMS.map((p) => (
                  <option value={p}>{p}</option>
                ))}
              </select>
            </label>
            <label>
              Name
              <input name="name" maxLength={100} />
            </label>
            <label>
              Rendition
              <input name="rendition" placeholder="source" />
            </label>
          </div>
          <label>
            Server URL <span class="muted">(rtmp:// or rtmps://; the platform fills it when empty)</span>
            <input name="url" />
          </label>
          <label>
            Stream key <span class="muted">(write-only: never shown again)</span>
            <input name="streamKey" type="password" autocomplete="off" required />
          </label>
          <ProblemBanner problem={problem} />
          <button type="submit" class="primary">
            Add destination
          </button>
        </form>
      </Section>
    </>
  );
}
