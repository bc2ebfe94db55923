// `npm run faults`: the fault suite against the real stack on loopback. Runs every fault (or those named with
// --only, a comma-separated list of substrings; --ci for the CI subset), checks the invariants after each, writes
// faults.json and, when the bad-input corpus is there, runs it too and writes bad-inputs.json.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ALL_FAULTS, CI_FAULTS } from './catalogue.ts';
import { runFaults, summary } from './suite.ts';

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

// The corpus runs through its own CLI, so `npm run faults` and a lone corpus run are the same run (its own edge, the
// loopback webhook switch off, the body-size cases left to the in-process sample: see run-bad-inputs.ts).
let badInputsFailed = false;
if (!values['skip-bad-inputs'] && !values.only && !values.ci && existsSync(path.join(root, 'scripts/faults/run-bad-inputs.ts'))) {
  const args = ['--import', 'tsx', 'scripts/faults/run-bad-inputs.ts', '--cases', values['bad-input-cases']!, ...(values.seed ? ['--seed', values.seed] : [])];
  console.log(`bad-input corpus: ${values['bad-input-cases']} cases …`);
  const corpus = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', timeout: 10 * 60_000 });
  badInputsFailed = corpus.status !== 0;
}

console.log(`\n${line} in ${Math.round((Date.now() - startedAt) / 1000)} s (faults.json)`);
for (const r of results.filter((x) => !x.passed)) console.log(`  ✗ ${r.name} (${r.moment}): ${r.violations[0]}`);
process.exit(results.every((r) => r.passed) && !badInputsFailed ? 0 : 1);
