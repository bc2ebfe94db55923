// The origins' control ports, played by a stand-in at the network boundary (globalThis.fetch): every command the edge
// sends an origin is recorded and answered with the status the test sets; or only clip jobs are taken; or origins with
// their own secrets, whose commands are checked for that origin's signature.
import { beforeAll, afterAll, beforeEach, vi, type MockInstance } from 'vitest';
import { provisionOrigin } from './helpers.ts';
import { verifyRequest } from '../../shared/request-signing.ts';

export interface ControlCommand {
  host: string;
  path: string;
  body: any;
}

/**
 * Registers the stand-in for the calling test file (installed before its tests, removed after). `answers` keys are
 * `host` + `path` (one command of one origin) or `host` (all of that origin's); unset, an origin answers `defaultStatus`.
 */
export function standInControlPorts(defaultStatus: number) {
  const commands: ControlCommand[] = [];
  const answers = new Map<string, number>();
  let originFetch: MockInstance<typeof fetch>;
  beforeAll(() => {
    originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const body = typeof init?.body === 'string' ? JSON.parse(init.body) : null;
      commands.push({ host: url.host, path: url.pathname, body });
      return new Response(null, { status: answers.get(`${url.host}${url.pathname}`) ?? answers.get(url.host) ?? defaultStatus });
    });
  });
  afterAll(() => originFetch.mockRestore());
  return { commands, answers };
}

/**
 * Registers, for the calling test file, origins that take clip jobs (202) and nothing else: any other command finds no
 * origin listening (the fetch fails), so the edge does not wait on a finalize.
 */
export function standInClipsOnlyOrigins(): void {
  let originFetch: MockInstance<typeof fetch>;
  beforeAll(() => {
    originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (url.pathname === '/control/clips') return new Response(null, { status: 202 });
      throw new TypeError('Network connection lost.');
    });
  });
  afterAll(() => originFetch.mockRestore());
}

/** What a signed stand-in origin answers one command: a status, a failed connection, no answer until aborted, or JSON. */
export type OriginAnswer = number | 'refuse-connection' | 'hang' | { json: unknown };

export interface SignedControlCommand extends ControlCommand {
  /** the origin's host when the edge signed the command with that origin's secret, else null */
  signedBy: string | null;
}

/**
 * Registers, for the calling test file, origins provisioned with their own secrets (`originUrl` hosts): every command is
 * recorded with whether that origin's secret signed it, and answered per `host` + `path` from `answers` (200 unset).
 * Both lists are emptied before each test.
 */
export function standInSignedOrigins(origins: { originId: string; originUrl: string }[]) {
  const commands: SignedControlCommand[] = [];
  const answers = new Map<string, OriginAnswer>();
  let originFetch: MockInstance<typeof fetch>;
  beforeAll(async () => {
    const secrets = new Map<string, string>();
    for (const origin of origins) secrets.set(new URL(origin.originUrl).host, await provisionOrigin(origin.originId));
    originFetch = vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const text = typeof init?.body === 'string' ? init.body : '';
      const secret = secrets.get(url.host);
      const verdict = secret ? await verifyRequest(secret, init?.method ?? 'GET', url.pathname, text, new Headers(init?.headers)) : { ok: false };
      commands.push({ host: url.host, path: url.pathname, body: text ? JSON.parse(text) : null, signedBy: verdict.ok ? url.host : null });
      const answer = answers.get(`${url.host}${url.pathname}`) ?? 200;
      if (answer === 'refuse-connection') throw new TypeError('Network connection lost.');
      if (answer === 'hang') {
        return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
      }
      if (typeof answer === 'object') return Response.json(answer.json);
      return new Response(null, { status: answer });
    });
  });
  afterAll(() => originFetch.mockRestore());
  beforeEach(() => {
    answers.clear();
    commands.length = 0;
  });
  return { commands, answers };
}
