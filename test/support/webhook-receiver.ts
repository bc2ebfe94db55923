// A customer's webhook receiver for end-to-end tests: a Node HTTP server on 127.0.0.1 that verifies every delivery
// with the public `standardwebhooks` library and records it. Its answers can be scripted (fail, hang, recover), and the
// fault suite switches its mode at will: down (not listening), 500, 410, 429 with Retry-After, hanging, healthy.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** An HTTP status to answer with, or 'hang': never answer (the sender's timeout ends it). */
export type Answer = number | 'hang';

/** What the receiver does from now on: 'down' closes its port (connection refused); the others answer every request. */
export type ReceiverMode = 'ok' | 'down' | 'hang' | 500 | 410 | 429;

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
  /** Switches how every later request is answered (overrides the scripted answers until set back to 'ok'). */
  setMode(mode: ReceiverMode): Promise<void>;
  readonly mode: ReceiverMode;
  /** Retry-After (seconds) sent with 429 answers. */
  retryAfterSeconds: number;
  close(): Promise<void>;
}

export async function startWebhookReceiver(answer: (n: number) => Answer = () => 200): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  let hanging = 0;
  let mode: ReceiverMode = 'ok';
  let port = 0;
  const listen = () => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const shut = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const receiver: WebhookReceiver = {
    url: '',
    secret: null,
    received,
    get hanging() {
      return hanging;
    },
    hangs: [],
    get mode() {
      return mode;
    },
    retryAfterSeconds: 2,
    async setMode(next) {
      if (next === mode) return;
      if (mode === 'down') await listen();
      if (next === 'down') await shut();
      mode = next;
    },
    close: async () => {
      if (mode !== 'down') await shut();
      mode = 'down';
    },
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const payload = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const n = received.length + 1;
      const scripted = mode === 'ok' ? answer(n) : mode === 'down' ? 503 : mode;
      const entry: ReceivedWebhook = { n, id: headers['webhook-id'] ?? '', receivedAt: Date.now(), verified: false, body: null, answer: scripted, headers };
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
      const extra: Record<string, string> = entry.answer === 429 ? { 'retry-after': String(receiver.retryAfterSeconds) } : {};
      res.writeHead(entry.answer, { 'content-type': 'text/plain', ...extra }).end(entry.answer < 300 ? 'ok' : 'failing on purpose');
    });
  });
  await listen();
  port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${port}/hooks`;
  return receiver;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
