// `node --import tsx scripts/faults/run-bad-inputs.ts [--cases N] [--seed S] [--out bad-inputs.json] [--kinds a,b]`: the full
// bad-input corpus (default 10,000 cases) against the real edge in workerd (wrangler's unstable_startWorker, D1
// migrated, no origin), then bad-inputs.json with the figures. Exits 1 when any case failed.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { unstable_startWorker } from 'wrangler';
import { runBadInputs } from './bad-inputs.ts';
import { CASE_KINDS } from './bad-input-cases.ts';

const root = path.resolve(import.meta.dirname, '../..');
/**
 * Over HTTP the requests pass wrangler dev's local proxy, which answers 503 "worker restarted mid-request" (and drops
 * requests in flight beside it) when a worker answers before reading a large body — Cloudflare's front line does not.
 * So the 64 KiB ± 1 body cases run in the in-process sample (test/edge/bad-inputs.test.ts), not here, unless asked.
 */
const HTTP_KINDS = CASE_KINDS.filter((kind) => kind !== 'body-size');
const run = promisify(execFile);

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '10000' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    out: { type: 'string', default: path.join(root, 'bad-inputs.json') },
    concurrency: { type: 'string', default: '8' },
    kinds: { type: 'string' },
  },
});

async function main(): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'riverhead-bad-inputs-'));
  const persist = path.join(dir, 'wrangler');
  const quietEnv = { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: 'false', WRANGLER_SEND_METRICS: 'false', WRANGLER_HIDE_BANNER: 'true', XDG_CONFIG_HOME: path.join(dir, 'xdg') };
  await run(path.join(root, 'node_modules/.bin/wrangler'), ['d1', 'migrations', 'apply', 'DB', '--local', '--persist-to', persist], { cwd: root, env: quietEnv });
  const secrets = { adminToken: randomBytes(24).toString('hex'), originSecret: randomBytes(32).toString('hex') };
  const text = (value: string) => ({ type: 'plain_text' as const, value });
  const worker = await unstable_startWorker({
    config: path.join(root, 'wrangler.toml'),
    bindings: {
      ADMIN_TOKEN: text(secrets.adminToken),
      ORIGIN_SECRET: text(secrets.originSecret),
      // The corpus calls the API on loopback: without this, http:// loopback webhook URLs would be allowed (dev mode).
      WEBHOOK_ALLOW_HTTP_LOOPBACK: text('false'),
    },
    dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist, watch: false, logLevel: 'error' },
  });
  try {
    const baseUrl = (await worker.url).toString().replace(/\/$/, '');
    const figures = await runBadInputs({
      baseUrl,
      cases: Number(values.cases),
      seed: Number(values.seed),
      adminToken: secrets.adminToken,
      originSecret: secrets.originSecret,
      concurrency: Number(values.concurrency),
      kinds: values.kinds?.split(',') ?? HTTP_KINDS,
    });
    await writeFile(values.out!, `${JSON.stringify({ at: new Date().toISOString(), kinds: values.kinds?.split(',') ?? HTTP_KINDS, ...figures }, null, 2)}\n`);
    const fiveHundreds = Object.entries(figures.byStatus).filter(([status]) => Number(status) >= 500).reduce((sum, [, n]) => sum + n, 0);
    console.log(
      `bad inputs: ${figures.cases} cases (seed ${figures.seed}) in ${(figures.durationMs / 1000).toFixed(1)} s, ` +
        `${figures.crossWorkspaceRoutes} routes in the cross-workspace matrix, ${fiveHundreds} 5xx, ${figures.failureCount} failures → ${values.out}`,
    );
    console.log(`statuses: ${JSON.stringify(figures.byStatus)}`);
    for (const failure of figures.failures.slice(0, 20)) console.log(`FAIL ${failure.why}: ${failure.method} ${failure.path.slice(0, 160)} (${failure.note.slice(0, 120)})`);
    return figures.failureCount === 0 ? 0 : 1;
  } finally {
    await worker.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
