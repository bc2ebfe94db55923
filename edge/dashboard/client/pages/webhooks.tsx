// Webhook endpoints: the list, create (the signing secret shown once), and an endpoint's page with its delivery log
// (each attempt's status code, latency and error), redeliver, test ping, rotate secret, enable/disable and delete.
/** @jsxImportSource hono/jsx/dom */
import { useState } from 'hono/jsx/dom';
import type { components } from '../../../../shared/client/index.ts';
import { ApiProblem, asProblem, call, type RiverheadClient } from '../api.ts';
import { navigate } from '../router.ts';
import { ActionButton, Badge, ConfirmButton, CopyField, Link, ListTable, Loaded, ProblemBanner, Section, StatusFilter, When } from '../ui.tsx';
import { usePoll } from '../use-poll.ts';

type Webhook = components['schemas']['Webhook'];
type Delivery = components['schemas']['WebhookDelivery'];
const DELIVERY_STATUSES = ['pending', 'retrying', 'succeeded', 'failed'] as const;

export function WebhooksPage({ client }: { client: RiverheadClient }) {
  const hooks = usePoll(async () => (await call(client.GET('/v1/webhooks', { params: { query: { limit: 100 } } }))).data, 5000, []);
  const [created, setCreated] = useState<Webhook | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const create = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    setProblem(null);
    try {
      const { data } = await call(
        client.POST('/v1/webhooks', { body: { url: String(form.get('url') ?? ''), description: String(form.get('description') ?? '') } }),
      );
      setCreated(data);
      (event.target as HTMLFormElement).reset();
      await hooks.reload();
    } catch (error) {
      setProblem(asProblem(error));
    }
  };
  return (
    <>
      <div class="page-head">
        <h1>Webhooks</h1>
      </div>
      <Section title="Add an endpoint">
        <form class="form row" onSubmit={create}>
          <input name="url" placeholder="https://example.com/hooks/riverhead" required />
          <input name="description" placeholder="What it is for" />
          <button type="submit" class="primary">
            Add endpoint
          </button>
        </form>
        <ProblemBanner problem={problem} />
        {created?.secret ? (
          <div class="ingest">
            <p class="notice">The signing secret is shown only now: verify deliveries with it (Standard Webhooks).</p>
            <CopyField label="Secret" value={created.secret} secret />
          </div>
        ) : null}
      </Section>
      <Section title="Endpoints">
        <ListTable
          polled={hooks}
          empty="No webhook endpoints yet."
          heads={['URL', 'State']}
          wide={['Events']}
          row={(h) => (
            <tr>
              <td>
                <Link href={`/dashboard/webhooks/${h.webhookId}`}>{h.url}</Link>
                {h.description ? <div class="muted">{h.description}</div> : null}
              </td>
              <td>{endpointState(h)}</td>
              <td class="wide">{h.eventTypes.length ? h.eventTypes.length : 'all'}</td>
            </tr>
          )}
        />
      </Section>
    </>
  );
}

function endpointState(h: Webhook) {
  if (!h.enabled) return <Badge value="disabled" />;
  if (h.failingSince) return <Badge value="failing" />;
  return <Badge value="enabled" />;
}

export function WebhookPage({ client, webhookId, status }: { client: RiverheadClient; webhookId: string; status: string | null }) {
  const path = { params: { path: { webhookId } } };
  const filter = (DELIVERY_STATUSES as readonly string[]).includes(status ?? '') ? (status as Delivery['status']) : undefined;
  const hook = usePoll(async () => (await call(client.GET('/v1/webhooks/{webhookId}', path))).data, 5000, [webhookId]);
  const deliveries = usePoll(
    async () =>
      (await call(client.GET('/v1/webhooks/{webhookId}/deliveries', { params: { path: { webhookId }, query: { limit: 50, ...(filter ? { status: filter } : {}) } } })))
        .data,
    3000,
    [webhookId, filter],
  );
  const [secret, setSecret] = useState<string | null>(null);
  return (
    <Loaded
      polled={hook}
      render={(h) => (
        <>
          <div class="page-head">
            <div>
              <p class="crumbs">
                <Link href="/dashboard/webhooks">Webhooks</Link> /
              </p>
              <h1 class="break">
                {h.url} {endpointState(h)}
              </h1>
              <p class="muted">
                <code>{h.webhookId}</code>
                {h.disabledReason ? ` · disabled: ${h.disabledReason}` : ''}
                {h.failingSince ? ' · failing since ' : ''}
                {h.failingSince ? <When at={h.failingSince} /> : null}
              </p>
            </div>
            <div class="actions">
              <ActionButton
                label="Send test ping"
                primary
                action={async () => {
                  await call(client.POST('/v1/webhooks/{webhookId}/test', path));
                  await deliveries.reload();
                }}
              />
              <ConfirmButton
                label={h.enabled ? 'Disable' : 'Enable'}
                question={h.enabled ? 'Stop sending to this endpoint?' : 'Send to this endpoint again?'}
                action={async () => {
                  await call(client.PATCH('/v1/webhooks/{webhookId}', { ...path, body: { enabled: !h.enabled } }));
                  await hook.reload();
                }}
              />
              <ConfirmButton
                label="Rotate secret"
                question="The old secret stops verifying new deliveries. Rotate?"
                action={async () => setSecret((await call(client.POST('/v1/webhooks/{webhookId}/rotate-secret', path))).data.secret ?? null)}
              />
              <ConfirmButton
                label="Delete"
                danger
                question="Delete this endpoint?"
                action={async () => {
                  await call(client.DELETE('/v1/webhooks/{webhookId}', path));
                  navigate('/dashboard/webhooks');
                }}
              />
            </div>
          </div>
          {secret ? (
            <Section title="New secret">
              <p class="notice">Shown only now.</p>
              <CopyField label="Secret" value={secret} secret />
            </Section>
          ) : null}
          <Section
            title="Deliveries"
            actions={
              <StatusFilter
                statuses={DELIVERY_STATUSES}
                value={filter}
                to={(value) => `/dashboard/webhooks/${webhookId}${value ? `?status=${value}` : ''}`}
              />
            }
          >
            <Loaded
              polled={deliveries}
              render={(list) =>
                list.length === 0 ? (
                  <p class="muted">No deliveries{filter ? ` ${filter}` : ''} yet. Send a test ping.</p>
                ) : (
                  <ul class="deliveries">
                    {list.map((d) => (
                      <DeliveryRow
                        delivery={d}
                        redeliver={async () => {
                          await call(client.POST('/v1/webhooks/{webhookId}/deliveries/{deliveryId}/redeliver', { params: { path: { webhookId, deliveryId: d.deliveryId } } }));
                          await deliveries.reload();
                        }}
                      />
                    ))}
                  </ul>
                )
              }
            />
          </Section>
        </>
      )}
    />
  );
}

/** What a receiver answered to a failed attempt: the start of its body (the delivery log keeps 4 KiB). */
function AttemptResponse({ attempt: a }: { attempt: Delivery['attempts'][number] }) {
  const failed = a.statusCode === null || a.statusCode < 200 || a.statusCode >= 300;
  if (!failed || !a.response || a.response.body === '') return null;
  return (
    <details class="response-body" open>
      <summary class="muted">
        Receiver's answer{a.response.contentType ? ` (${a.response.contentType})` : ''}
        {a.response.truncated ? ' — first 4 KiB' : ''}
      </summary>
      <pre>{a.response.body}</pre>
    </details>
  );
}

function DeliveryRow({ delivery: d, redeliver }: { delivery: Delivery; redeliver: () => Promise<void> }) {
  const [open, setOpen] = useState(d.status === 'failed');
  return (
    <li data-delivery-id={d.deliveryId} data-status={d.status}>
      <div class="media-row">
        <button type="button" class="link" onClick={() => setOpen(!open)} aria-expanded={open ? 'true' : 'false'}>
          {open ? '▾' : '▸'} {d.eventType}
        </button>
        <Badge value={d.status} />
        <span class="muted">
          <When at={d.createdAt} /> · {d.attempts.length} attempt{d.attempts.length === 1 ? '' : 's'}
        </span>
        <span class="actions">
          <ConfirmButton label="Redeliver" question="Send this event again?" action={redeliver} />
        </span>
      </div>
      {open ? (
        <div class="delivery-detail">
          <p class="muted">
            Event <code>{d.eventId}</code>
            {d.nextAttemptAt ? ' · next attempt ' : ''}
            {d.nextAttemptAt ? <When at={d.nextAttemptAt} /> : null}
          </p>
          {d.failureReason ? <p class="problem">Failed: {d.failureReason}</p> : null}
          <table class="list">
            <thead>
              <tr>
                <th>#</th>
                <th>When</th>
                <th>Response</th>
                <th>Latency</th>
              </tr>
            </thead>
            <tbody>
              {d.attempts.map((a) => (
                <tr>
                  <td>{a.attempt}</td>
                  <td>
                    <When at={a.startedAt} />
                  </td>
                  <td>
                    {a.statusCode === null ? <span class="muted">no response</span> : <code>HTTP {a.statusCode}</code>}
                    {a.error ? <div class="problem-text">{a.error}</div> : null}
                    <AttemptResponse attempt={a} />
                  </td>
                  <td>{a.latencyMs} ms</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </li>
  );
}
