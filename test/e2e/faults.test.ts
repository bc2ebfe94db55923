// The CI-sized fault suite: a handful of fast faults (encoder drops, a transcoder crash, a short edge freeze, a
// failing webhook receiver, a short RTMP flood) on the real stack, each checked against every invariant of the full
// suite (`npm run faults`, scripts/faults/).
import { describe, it, expect } from 'vitest';
import { CI_FAULTS } from '../../scripts/faults/catalogue.ts';
import { runFaults, summary } from '../../scripts/faults/suite.ts';

describe('fault suite, CI subset', () => {
  it('every fault is survived with every invariant holding', async () => {
    const startedAt = Date.now();
    const lines: string[] = [];
    const results = await runFaults(CI_FAULTS, (line) => lines.push(line));
    console.log(`${lines.join('\n')}\n${summary(results)} in ${Math.round((Date.now() - startedAt) / 1000)} s`);
    const failures = results.filter((r) => !r.passed).map((r) => `${r.name} (${r.moment}):\n  ${r.violations.join('\n  ')}`);
    expect(failures, failures.join('\n')).toEqual([]);
    expect(results).toHaveLength(CI_FAULTS.length);
  }, 240_000);
});
