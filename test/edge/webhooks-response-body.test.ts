// The delivery log keeps each attempt's answer from the receiver: the first 4 KiB of its body as text (truncated past
// that, never cutting a character in half), its content type; nothing when no answer came; a trickling body is cut at
// its deadline. Receivers are a stubbed fetch; the test ping goes through the test Worker's real queues and consumer.
import { describe, it, expect, beforeAll, afterAll, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { api, createWorkspace, json, type Workspace } from './helpers.ts';
import { RESPONSE_EXCERPT_BYTES, readResponseExcerpt } from '../../edge/webhooks/response-excerpt.ts';

let ws: Workspace;
/** What each receiver URL answers. */
const answers = new Map<string, () => Response | Promise<Response>>();
beforeAll(async () => {
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input: RequestInfo | URL) => {
    const answer = answers.get(String(input instanceof Request ? input.url : input));
    return answer ? answer() : new Response('ok');
  });
  ws = await createWorkspace('webhook-response-bodies');
});
afterAll(() => {
  vi.restoreAllMocks();
});

/** Creates an endpoint answering `answer`, pings it, and returns its delivery once the first attempt is logged. */
async function pingAnswered(answer: () => Response | Promise<Response>) {
  const url = `https://receiver.test/${crypto.randomUUID()}`;
  answers.set(url, answer);
  const created = (await json(await api(ws, 'POST', '/webhooks', { url }))).data;
  expect((await api(ws, 'POST', `/webhooks/${created.webhookId}/test`)).status).toBe(202);
  for (let i = 0; i < 100; i++) {
    const delivery = (await json(await api(ws, 'GET', `/webhooks/${created.webhookId}/deliveries`))).data[0];
    if (delivery?.attempts.length) return delivery;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the ping was never attempted');
}

describe("a failed delivery's response", () => {
  it('a 500 with a long body: the first 4 KiB as text, truncated, with its content type; stored in D1', async () => {
    // 'é' is two bytes: 4095 ASCII bytes then 'é' would straddle the 4 KiB boundary, and is left out whole.
    const body = 'x'.repeat(RESPONSE_EXCERPT_BYTES - 1) + 'é' + 'tail that is not kept'.repeat(100);
    const delivery = await pingAnswered(() => new Response(body, { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } }));
    expect(delivery.status).toBe('retrying');
    const [attempt] = delivery.attempts;
    expect(attempt).toMatchObject({ attempt: 1, statusCode: 500, error: 'HTTP 500' });
    expect(attempt.response).toEqual({ body: 'x'.repeat(RESPONSE_EXCERPT_BYTES - 1), truncated: true, contentType: 'text/plain; charset=utf-8' });
    const row = await env.DB.prepare('SELECT response_body, response_truncated, response_content_type FROM webhook_attempts WHERE delivery_id = ?')
      .bind(delivery.deliveryId)
      .first<Record<string, unknown>>();
    expect(row).toEqual({ response_body: 'x'.repeat(RESPONSE_EXCERPT_BYTES - 1), response_truncated: 1, response_content_type: 'text/plain; charset=utf-8' });
  });

  it('a short problem+json body is kept whole, not truncated', async () => {
    const problem = JSON.stringify({ title: 'Signature rejected', detail: 'clock skew' });
    const delivery = await pingAnswered(() => new Response(problem, { status: 400, headers: { 'content-type': 'application/problem+json' } }));
    expect(delivery.attempts[0]).toMatchObject({
      statusCode: 400,
      response: { body: problem, truncated: false, contentType: 'application/problem+json' },
    });
  });

  it('a success keeps its (empty) answer too; an attempt with no response has none', async () => {
    const ok = await pingAnswered(() => new Response(null, { status: 204 }));
    expect(ok.attempts[0]).toMatchObject({ statusCode: 204, response: { body: '', truncated: false, contentType: null } });
    const refused = await pingAnswered(() => Promise.reject(new TypeError('connection refused')));
    expect(refused.attempts[0]).toMatchObject({ statusCode: null, error: 'connection refused', response: null });
  });
});

describe('readResponseExcerpt', () => {
  it('a body that trickles past the deadline is cut there, what came so far kept', async () => {
    let pushMore: ReturnType<typeof setInterval> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('first bytes'));
        // Then nothing more for longer than the deadline (and never an end).
        pushMore = setInterval(() => undefined, 1000);
      },
      cancel() {
        clearInterval(pushMore);
      },
    });
    const started = Date.now();
    const excerpt = await readResponseExcerpt(new Response(stream, { status: 502 }), RESPONSE_EXCERPT_BYTES, 300);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(excerpt).toEqual({ body: 'first bytes', truncated: true, contentType: null });
  });
});
