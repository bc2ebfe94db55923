// `npm run faults`: the fault suite against the real stack on loopback. Runs every fault (or those named with
// --only, a comma-separated list of substrings; --ci for the CI subset), checks the invariants after each, writes
// faults.json and, when the bad-input corpus is there, runs it too and writes bad-inputs.json.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_FAULTS, CI_FAULTS } from './catalogue.ts';
import { runFaults, summary } from './suite.ts';
import { startStack } from '../../test/support/stack.ts';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    ci: { type: 'boolean', default: false },
    out: { type: 'string', default: path.join(root, 'faults.json') },
    'skip-bad-inputs': { type: 'boolean', default: false },
    'bad-input-cases': { type: 'string', default: '10000' },
    seed: { type: 'string' },
  },
});

const startedAt = Date.now();
const wanted = values.only?.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
const faults = (values.ci ? CI_FAULTS : ALL_FAULTS).filter(
  (f) => !wanted || wanted.some((w) => `${f.name} (${f.moment})`.toLowerCase().includes(w)),
);
console.log(`fault suite: ${faults.length} faults`);
const results = await runFaults(faults);
const line = summary(results);
await writeFile(
  values.out,
  JSON.stringify({ finishedAt: new Date().toISOString(), durationSeconds: Math.round((Date.now() - startedAt) / 1000), summary: line, faults: results }, null, 2) + '\n',
);

let badInputsFailed = false;
const badInputs = path.join(root, 'scripts/faults/bad-inputs.ts');
if (!values['skip-bad-inputs'] && !values.only && !values.ci && existsSync(badInputs)) {
  const { runBadInputs } = await import('./bad-inputs.ts');
  const cases = Number(values['bad-input-cases']);
  const seed = values.seed ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
  console.log(`bad-input corpus: ${cases} cases, seed ${seed} …`);
  const stack = await startStack();
  try {
    const figures = await runBadInputs({ baseUrl: stack.edgeUrl, cases, seed, adminToken: stack.adminToken, originSecret: stack.originSecret });
    await writeFile(path.join(root, 'bad-inputs.json'), JSON.stringify(figures, null, 2) + '\n');
    console.log(`bad inputs: ${figures.cases} cases, ${figures.failureCount} failures in ${Math.round(figures.durationMs / 1000)} s (bad-inputs.json)`);
    badInputsFailed = figures.failureCount > 0;
  } finally {
    await stack.stop();
  }
}

console.log(`\n${line} in ${Math.round((Date.now() - startedAt) / 1000)} s (faults.json)`);
for (const r of results.filter((x) => !x.passed)) console.log(`  ✗ ${r.name} (${r.moment}): ${r.violations[0]}`);
process.exit(results.every((r) => r.passed) && !badInputsFailed ? 0 : 1);
