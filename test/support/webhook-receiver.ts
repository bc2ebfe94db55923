// A customer's webhook receiver for end-to-end tests: a Node HTTP server on 127.0.0.1 that verifies every delivery
// with the public `standardwebhooks` library and records it. Its answers can be scripted: fail, hang, recover.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** An HTTP status to answer with, or 'hang': never answer (the sender's timeout ends it). */
export type Answer = number | 'hang';

export interface ReceivedWebhook {
  /** 1-based number of the request, in arrival order */
  n: number;
  id: string;
  receivedAt: number;
  verified: boolean;
  verifyError?: string;
  body: any;
  answer: Answer;
  headers: Record<string, string>;
}

export interface WebhookReceiver {
  url: string;
  /** set once the endpoint is created: deliveries are verified with it as they arrive */
  secret: string | null;
  received: ReceivedWebhook[];
  /** how many requests are being held open right now */
  readonly hanging: number;
  /** when each held-open request started and ended (end: when the sender gave up) */
  hangs: { start: number; end: number | null }[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(answer: (n: number) => Answer = () => 200): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let hanging = 0;
  const receiver: WebhookReceiver = {
    url: '',
    secret: null,
    received,
    get hanging() {
      return hanging;
    },
    hangs: [],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const payload = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const n = received.length + 1;
      const entry: ReceivedWebhook = { n, id: headers['webhook-id'] ?? '', receivedAt: Date.now(), verified: false, body: null, answer: answer(n), headers };
      try {
        if (!receiver.secret) throw new Error('no secret set yet');
        entry.body = new Webhook(receiver.secret).verify(payload, headers);
        entry.verified = true;
      } catch (error) {
        entry.verifyError = String(error);
        entry.body = safeJson(payload);
      }
      received.push(entry);
      if (entry.answer === 'hang') {
        hanging += 1;
        const hang = { start: entry.receivedAt, end: null as number | null };
        receiver.hangs.push(hang);
        res.on('close', () => {
          hanging -= 1;
          hang.end = Date.now();
        });
        return;
      }
      res.writeHead(entry.answer, { 'content-type': 'text/plain' }).end(entry.answer < 300 ? 'ok' : 'failing on purpose');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
