// The origins' control ports, played by a stand-in at the network boundary (globalThis.fetch): every command the edge
// sends an origin is recorded and answered with the status the test sets; or only clip jobs are taken.
import { beforeAll, afterAll, vi, type MockInstance } from 'vitest';

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
