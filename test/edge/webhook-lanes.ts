// The webhook consumer's three Queue lanes as stand-ins that record what is sent (and with which delay), over the
// test's real D1, so consumer tests see every enqueue without a Queue of their own.
import { env } from 'cloudflare:workers';
import type { Env } from '../../edge/env.ts';
import type { DeliveryMessage } from '../../edge/webhooks/delivery.ts';

export interface Sent {
  body: DeliveryMessage;
  delaySeconds?: number;
}

export function standInQueue() {
  const sent: Sent[] = [];
  return {
    sent,
    async send(body: DeliveryMessage, options?: { delaySeconds?: number }) {
      sent.push({ body, delaySeconds: options?.delaySeconds });
    },
    async sendBatch(messages: { body: DeliveryMessage; delaySeconds?: number }[]) {
      for (const m of messages) sent.push({ body: m.body, delaySeconds: m.delaySeconds });
    },
  };
}

export type WebhookLanes = Record<'deliveries' | 'retries' | 'dead', ReturnType<typeof standInQueue>>;

/** Fresh lanes and an Env wired to them: 1 s receiver timeout, 10 s retry base. */
export function standInWebhookLanes(): { lanes: WebhookLanes; env: Env } {
  const lanes = { deliveries: standInQueue(), retries: standInQueue(), dead: standInQueue() };
  const laneEnv = {
    DB: env.DB,
    WEBHOOK_DELIVERIES: lanes.deliveries,
    WEBHOOK_RETRIES: lanes.retries,
    WEBHOOK_DEAD_LETTERS: lanes.dead,
    WEBHOOK_TIMEOUT_SECONDS: '1',
    WEBHOOK_RETRY_BASE_SECONDS: '10',
  } as unknown as Env;
  return { lanes, env: laneEnv };
}
