// The CI-sized bad-input corpus (scripts/faults/bad-inputs.ts) inside workerd against the edge app: 600 generated
// requests (bodies, queries, ids, auth, content types, sizes, methods, playback JWTs and Ranges, webhook URLs) and the
// cross-workspace matrix. Every answer a 4xx problem with a stable type where the input is bad; never a 5xx.
import { describe, it, expect } from 'vitest';
import { exports } from 'cloudflare:workers';
import { runBadInputs } from '../../scripts/faults/bad-inputs.ts';
import { ADMIN_TOKEN, ORIGIN_SECRET } from './helpers.ts';

const worker = () => (exports as unknown as { default: Fetcher }).default;
const SEED = Number(process.env.BAD_INPUTS_SEED ?? 20261128);

describe('bad-input corpus (CI sample)', () => {
  it('600 cases: no 5xx, no stack, only problem+json refusals; other workspaces look missing', async () => {
    const figures = await runBadInputs({
      fetch: (request) => worker().fetch(request),
      cases: 600,
      seed: SEED,
      adminToken: ADMIN_TOKEN,
      originSecret: ORIGIN_SECRET,
      concurrency: 6,
    });
    const { cases, crossWorkspaceRoutes, byKind, byStatus, durationMs } = figures;
    console.log(JSON.stringify({ event: 'bad_inputs_figures', seed: SEED, cases, crossWorkspaceRoutes, byKind, byStatus, durationMs }));
    expect(figures.failures, JSON.stringify(figures.failures.slice(0, 5), null, 2)).toEqual([]);
    expect(figures.cases).toBeGreaterThanOrEqual(580); // a handful of unsendable headers are skipped
    // 43 with live events (9 routes) and destinations (5, and 3 more with B's destination id under A's own stream);
    // 46 with B's library video on GET, PATCH and DELETE /v1/videos/{videoId}
    expect(figures.crossWorkspaceRoutes).toBeGreaterThanOrEqual(46);
    expect(Object.keys(figures.byStatus).filter((status) => Number(status) >= 500)).toEqual([]);
    for (const kind of ['body', 'malformed-json', 'content-type', 'body-size', 'query', 'path-id', 'auth', 'method', 'webhook-url', 'jwt', 'range', 'cross-workspace']) {
      expect(figures.byKind[kind] ?? 0, kind).toBeGreaterThan(0);
    }
  }, 300_000);
});
