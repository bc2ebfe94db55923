// The edge with an unset or weak ORIGIN_SECRET: every /internal call is a clear 503 problem with a log line, never a
// crash and never an accepted call (signed with an empty or guessable key).
import { describe, it, expect, vi } from 'vitest';
import { env } from 'cloudflare:workers';
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { buildApp } from '../../edge/app.ts';
import { signRequest } from '../../shared/request-signing.ts';

const app = buildApp();

async function internalCall(secretOnEdge: string | undefined, signingSecret: string) {
  const body = JSON.stringify({ events: [] });
  const headers = await signRequest(signingSecret, 'POST', '/internal/events', body);
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

  it('a usable secret still verifies (past the signature, the empty batch is the schema\'s 400)', async () => {
    expect((await internalCall('a-strong-origin-secret-0123', 'a-strong-origin-secret-0123')).status).toBe(400);
    expect((await internalCall('a-strong-origin-secret-0123', 'another-secret-0123456789')).status).toBe(401);
  });
});
