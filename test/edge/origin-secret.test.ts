// The edge with an unset or weak ORIGIN_SECRET: every /internal call is a clear 503 problem with a log line, never a
// crash and never an accepted call (signed with an empty or guessable key).
import { describe, it, expect, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { buildApp } from '../../edge/app.ts';
import { signRequest } from '../../shared/request-signing.ts';
import { deriveOriginSecret, ORIGIN_ID_HEADER } from '../../shared/origin-credentials.ts';

const app = buildApp();

async function internalCall(secretOnEdge: string | undefined, signingSecret: string, originId = 'origin-test') {
  const body = JSON.stringify({ events: [] });
  const headers = { ...(await signRequest(signingSecret, 'POST', '/internal/events', body)), [ORIGIN_ID_HEADER]: originId };
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request('http://edge.test/internal/events', { method: 'POST', body, headers: { ...headers, 'content-type': 'application/json' } }),
    { ...env, ORIGIN_SECRET: secretOnEdge as string },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return response;
}

describe('ORIGIN_SECRET on the edge', () => {
  it.each([
    ['unset', undefined, 'undefined'],
    ['empty', '', 'x'],
    ['short', 'abc', 'abc'],
    ['placeholder', 'changeme-changeme', 'changeme-changeme'],
  ])('%s: /internal answers 503 misconfigured, whatever the caller signs with', async (_name, onEdge, signingSecret) => {
    const logs = vi.spyOn(console, 'log');
    const response = await internalCall(onEdge, signingSecret);
    expect(response.status).toBe(503);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await response.json()) as { type: string; detail: string };
    expect(problem.type).toBe('https://riverhead.dev/problems/origin-secret-unusable');
    expect(JSON.stringify(problem)).not.toMatch(/at .*\.ts:\d+/); // no stack
    const lines = logs.mock.calls.map((args) => String(args[0]));
    logs.mockRestore();
    expect(lines.some((line) => line.includes('"event":"origin_secret_unusable"'))).toBe(true);
    if (onEdge) expect(lines.join('\n')).not.toContain(onEdge);
  });

  it("a usable master derives the origin's secret, which verifies (past the signature, the empty batch is the schema's 400)", async () => {
    const master = 'a-strong-origin-secret-0123';
    await env.DB.prepare("INSERT INTO origins (id, region, generation, created_at) VALUES ('origin-strong', 'local', 1, '2026-01-01T00:00:00.000Z') ON CONFLICT (id) DO NOTHING").run();
    expect((await internalCall(master, await deriveOriginSecret(master, 'origin-strong', 1), 'origin-strong')).status).toBe(400);
    expect((await internalCall(master, 'another-secret-0123456789', 'origin-strong')).status).toBe(401);
    // the master itself speaks for no origin
    expect((await internalCall(master, master, 'origin-strong')).status).toBe(401);
  });
});
