// The bad-input corpus: builds its fixture through the edge's API, reads /v1/openapi.json, generates cases with
// fast-check (seeded, so a run can be replayed), sends them, and checks every answer: never a 5xx, never a stack,
// every 4xx an application/problem+json with a stable `type`; cross-workspace ids the same 404 as missing ones.
// Runs against a URL (the CLI, scripts/faults/run-bad-inputs.ts) or a fetch function (the edge vitest project).
import fc from 'fast-check';
import { buildFixture, type BadInputFixture } from './bad-inputs-fixture.ts';
import { caseArbitrary, crossWorkspaceMatrix, refusedPlaybackTokens, type BadInputCase } from './bad-input-cases.ts';
import type { OpenApiDocument } from './json-schema-arbitraries.ts';

export interface BadInputOptions {
  /** where the edge listens (CLI), or… */
  baseUrl?: string;
  /** …how to reach it in-process (workerd tests: exports.default.fetch) */
  fetch?: (request: Request) => Promise<Response>;
  /** total cases, the cross-workspace matrix included */
  cases: number;
  seed: number;
  adminToken: string;
  originSecret: string;
  /** requests in flight at once; default 8 */
  concurrency?: number;
  /** per request; default 30 s */
  timeoutMs?: number;
  /** only these generated kinds (default: all); the cross-workspace matrix always runs */
  kinds?: readonly string[];
}

export interface BadInputFailure {
  kind: string;
  note: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | null;
  status: number | null;
  contentType: string | null;
  answer: string;
  why: string;
}

export interface BadInputFigures {
  seed: number;
  cases: number;
  byStatus: Record<string, number>;
  byKind: Record<string, number>;
  problemTypes: Record<string, number>;
  crossWorkspaceRoutes: number;
  /** milliseconds spent waiting for answers, per kind (summed over concurrent requests) */
  msByKind: Record<string, number>;
  /** the slowest answers, to find what costs time */
  slowest: { ms: number; kind: string; note: string; status: number | null }[];
  failureCount: number;
  /** the first 200 failures, each replayable from its fields */
  failures: BadInputFailure[];
  durationMs: number;
}

const PROBLEM_TYPE = /^https:\/\/riverhead\.dev\/problems\/[a-z0-9-]+$/;
const STACK = /\n\s+at |\bat [\w$.<>]+ \(|\.(ts|js|mjs):\d+:\d+|node_modules|workerd\//;
const BASE = 'http://edge.test';

interface Answer {
  status: number | null;
  contentType: string | null;
  headers: Headers | null;
  bytes: Uint8Array;
  error?: string;
}

function redact(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = name === 'authorization' ? `${value.split(/\s/)[0] ?? ''} …(${value.length} chars)` : value.length > 200 ? `${value.slice(0, 200)}…(${value.length})` : value;
  }
  return out;
}

function preview(body: BadInputCase['body']): string | null {
  if (body === undefined) return null;
  const text = typeof body === 'string' ? body : `bytes[${Array.from(body.slice(0, 32)).join(',')}]`;
  return text.length > 300 ? `${text.slice(0, 300)}…(${text.length} chars)` : text;
}

/** What is wrong with this answer to this case, or null. */
export function judge(testCase: BadInputCase, answer: Answer): string | null {
  if (answer.status === null) return `no answer: ${answer.error}`;
  const { status } = answer;
  const text = new TextDecoder().decode(answer.bytes);
  const documented = status >= 500 && testCase.expect.class === 'no-server-error' && (testCase.documented5xx ?? []).includes(status);
  if (status >= 500 && !documented) return `server error ${status}`;
  if (status >= 400) {
    if (!answer.contentType?.startsWith('application/problem+json')) return `${status} without application/problem+json (${answer.contentType})`;
    let problem: { type?: unknown; status?: unknown };
    try {
      problem = JSON.parse(text) as typeof problem;
    } catch {
      return `${status} problem body is not JSON`;
    }
    if (typeof problem.type !== 'string' || !PROBLEM_TYPE.test(problem.type)) return `problem type ${JSON.stringify(problem.type)} is not a stable riverhead type`;
    if (problem.type.endsWith('/http-error')) return `unmapped HTTP error (${text.slice(0, 120)})`;
    if (problem.status !== status) return `problem status ${String(problem.status)} ≠ HTTP ${status}`;
    if (STACK.test(text)) return 'the problem carries a stack trace';
  }
  const expect = testCase.expect;
  switch (expect.class) {
    case 'client-error':
      return status >= 400 && status < 500 ? null : `expected a 4xx, got ${status}`;
    case 'no-server-error':
      return null;
    case 'status':
      return expect.statuses.includes(status) ? null : `expected ${expect.statuses.join('/')}, got ${status}`;
    case 'range':
      return judgeRange(expect, answer, text);
  }
}

function judgeRange(expect: { size: number; satisfiable: boolean | null }, answer: Answer, text: string): string | null {
  const { status } = answer;
  const contentRange = answer.headers?.get('content-range') ?? null;
  if (status === 416) {
    if (contentRange !== `bytes */${expect.size}`) return `416 with Content-Range ${contentRange}`;
    return expect.satisfiable === true ? 'a satisfiable range answered 416' : null;
  }
  if (status === 206) {
    const match = contentRange ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(contentRange) : null;
    if (!match) return `206 with Content-Range ${contentRange}`;
    const [first, last, size] = [Number(match[1]), Number(match[2]), Number(match[3])];
    if (size !== expect.size || first > last || last >= size) return `206 with impossible Content-Range ${contentRange}`;
    if (answer.bytes.length !== last - first + 1) return `206 body of ${answer.bytes.length} bytes for ${contentRange}`;
    for (let i = 0; i < answer.bytes.length; i++) if (answer.bytes[i] !== (((first + i) * 7) & 0xff)) return `206 body bytes differ from the object at ${first + i}`;
    return expect.satisfiable === false ? 'an unsatisfiable range answered 206' : null;
  }
  if (status === 200) {
    if (answer.bytes.length !== expect.size) return `200 body of ${answer.bytes.length} bytes, object is ${expect.size}`;
    return expect.satisfiable === false ? 'an unsatisfiable range answered 200' : null;
  }
  return `Range answered ${status}: ${text.slice(0, 100)}`;
}

function requestOf(base: string, testCase: BadInputCase): Request {
  const init: RequestInit & { duplex?: 'half' } = { method: testCase.method, headers: testCase.headers };
  if (testCase.body !== undefined) {
    const bytes = typeof testCase.body === 'string' ? new TextEncoder().encode(testCase.body) : testCase.body;
    if (testCase.streamed) {
      // A body whose length is not announced: the limit must hold while reading, not only from Content-Length.
      init.body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let offset = 0; offset < bytes.length; offset += 16 * 1024) controller.enqueue(bytes.slice(offset, offset + 16 * 1024));
          controller.close();
        },
      });
      init.duplex = 'half';
    } else {
      init.body = bytes;
    }
  }
  return new Request(base + testCase.path, init);
}

async function answerOf(send: (request: Request) => Promise<Response>, request: Request, timeoutMs: number): Promise<Answer> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // The body is read inside the deadline too: an answer whose body never ends is as bad as no answer.
    const [response, bytes] = await Promise.race([
      send(request).then(async (response) => [response, new Uint8Array(await response.arrayBuffer())] as const),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { status: response.status, contentType: response.headers.get('content-type'), headers: response.headers, bytes };
  } catch (error) {
    return { status: null, contentType: null, headers: null, bytes: new Uint8Array(), error: String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `items` through `work` with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]!);
  });
  await Promise.all(lanes);
}

/** Missing ids are all-zero ids of B's shape (ls_000…); a case with B's id may name one too (an id B has no kind of). */
const MISSING_ID = /\S+_0+\b/g;

const sameNotFound = (a: string, b: string, theirId: RegExp) => {
  try {
    const [pa, pb] = [JSON.parse(a), JSON.parse(b)] as { type: string; title: string; detail?: string }[];
    return pa!.type === pb!.type && pa!.title === pb!.title && (pa!.detail ?? '').replace(theirId, 'ID').replace(MISSING_ID, 'ID') === (pb!.detail ?? '').replace(MISSING_ID, 'ID');
  } catch {
    return false;
  }
};

export async function runBadInputs(options: BadInputOptions): Promise<BadInputFigures> {
  const started = Date.now();
  const base = options.baseUrl?.replace(/\/$/, '') ?? BASE;
  const send = options.fetch ?? ((request: Request) => fetch(request));
  const timeoutMs = options.timeoutMs ?? 30_000;
  const fixture: BadInputFixture = await buildFixture(send, base, { adminToken: options.adminToken, originSecret: options.originSecret });
  const doc = (await (await send(new Request(`${base}/v1/openapi.json`))).json()) as OpenApiDocument;
  const tokens = await refusedPlaybackTokens(fixture);

  const figures: BadInputFigures = {
    seed: options.seed, cases: 0, byStatus: {}, byKind: {}, problemTypes: {}, crossWorkspaceRoutes: 0, msByKind: {}, slowest: [], failureCount: 0, failures: [], durationMs: 0,
  };
  const record = (testCase: BadInputCase, answer: Answer, why: string | null, ms: number) => {
    figures.cases += 1;
    figures.msByKind[testCase.kind] = (figures.msByKind[testCase.kind] ?? 0) + ms;
    if (figures.slowest.length < 10 || ms > figures.slowest[figures.slowest.length - 1]!.ms) {
      figures.slowest.push({ ms, kind: testCase.kind, note: testCase.note.slice(0, 160), status: answer.status });
      figures.slowest.sort((a, b) => b.ms - a.ms).splice(10);
    }
    const statusKey = String(answer.status ?? 'none');
    figures.byStatus[statusKey] = (figures.byStatus[statusKey] ?? 0) + 1;
    figures.byKind[testCase.kind] = (figures.byKind[testCase.kind] ?? 0) + 1;
    if (answer.contentType?.startsWith('application/problem+json')) {
      try {
        const type = String((JSON.parse(new TextDecoder().decode(answer.bytes)) as { type: unknown }).type).replace('https://riverhead.dev/problems/', '');
        figures.problemTypes[type] = (figures.problemTypes[type] ?? 0) + 1;
      } catch {
        // judged below
      }
    }
    if (!why) return;
    figures.failureCount += 1;
    if (figures.failures.length < 200) {
      figures.failures.push({
        kind: testCase.kind,
        note: testCase.note,
        method: testCase.method,
        path: testCase.path.length > 300 ? `${testCase.path.slice(0, 300)}…(${testCase.path.length})` : testCase.path,
        headers: redact(testCase.headers),
        body: preview(testCase.body),
        status: answer.status,
        contentType: answer.contentType,
        answer: new TextDecoder().decode(answer.bytes.slice(0, 400)),
        why,
      });
    }
  };

  // The matrix first, while B's resources are untouched.
  const matrix = crossWorkspaceMatrix(doc, fixture);
  figures.crossWorkspaceRoutes = matrix.length;
  const theirIds = new RegExp(
    [fixture.b.streamId, fixture.b.webhookId, fixture.b.signingKeyId, fixture.b.recordingId, fixture.b.accessTokenId, fixture.b.eventId, fixture.b.destinationId, fixture.b.videoId].join('|'),
    'g',
  );
  await pool(matrix, options.concurrency ?? 8, async (pair) => {
    let t = Date.now();
    const theirs = await answerOf(send, requestOf(base, pair.theirs), timeoutMs);
    const theirsMs = Date.now() - t;
    t = Date.now();
    const missing = await answerOf(send, requestOf(base, pair.missing), timeoutMs);
    record(pair.missing, missing, judge(pair.missing, missing), Date.now() - t);
    let why = judge(pair.theirs, theirs);
    if (!why && !sameNotFound(new TextDecoder().decode(theirs.bytes), new TextDecoder().decode(missing.bytes), theirIds)) {
      why = "another workspace's id is answered differently from a missing id";
    }
    record(pair.theirs, theirs, why, theirsMs);
  });

  const generated = fc.sample(caseArbitrary(doc, fixture, tokens, options.kinds), { numRuns: Math.max(0, options.cases - figures.cases), seed: options.seed });
  await pool(generated, options.concurrency ?? 8, async (testCase) => {
    let request: Request;
    try {
      request = requestOf(base, testCase);
    } catch (error) {
      // A header no HTTP client can send (the generator's fault, not the edge's): skipped, not counted.
      return void error;
    }
    const t = Date.now();
    const answer = await answerOf(send, request, timeoutMs);
    record(testCase, answer, judge(testCase, answer), Date.now() - t);
  });
  figures.durationMs = Date.now() - started;
  return figures;
}
