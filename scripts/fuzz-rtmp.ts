// Longer fuzz run over PublishSession than the test suite can afford: mutated and random client streams for
// `--seconds N` (default 10), printing cases/s, the largest buffer seen and what the cases ended in.
// Usage: node --import tsx scripts/fuzz-rtmp.ts --seconds 60 [--seed 1234]
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { RtmpProtocolError } from '../origin/rtmp/chunk-reader.ts';
import { PublishSession } from '../origin/rtmp/publish-session.ts';
import { drive, fuzzBufferBound, fuzzLimits, mutatedFeedArb, randomFeedArb } from '../test/origin/rtmp/fixtures.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, seed: { type: 'string' } },
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error('--seconds must be a positive number');
  process.exit(2);
}
let seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed);

let cases = 0;
let maxBuffered = 0;
const outcomes = new Map<string, number>();

const property = fc.property(fc.oneof(mutatedFeedArb, randomFeedArb), ({ pieces, accept }) => {
  cases++;
  const session = new PublishSession({ limits: fuzzLimits });
  // drive() lets anything thrown escape: fast-check reports it with the input that caused it.
  const { outputs, maxBuffered: buffered } = drive(session, pieces, () => accept);
  maxBuffered = Math.max(maxBuffered, buffered);
  if (buffered > fuzzBufferBound) throw new Error(`held ${buffered} bytes, bound ${fuzzBufferBound}`);
  const error = outputs.find((o) => o.type === 'error');
  if (error && !(error.error instanceof RtmpProtocolError)) throw new Error('error output that is not an RtmpProtocolError');
  const published = outputs.some((o) => o.type === 'publish-requested');
  const outcome = `${published ? 'published' : 'not published'}, ${error ? error.error.code : 'no error'}`;
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
});

const started = Date.now();
const deadline = started + seconds * 1000;
console.log(`fuzzing PublishSession for ${seconds}s from seed ${seed}; buffer bound ${fuzzBufferBound} bytes`);
while (Date.now() < deadline) {
  // Short batches so the time budget is kept; each with its own seed so a failure can be replayed.
  const details = fc.check(property, { numRuns: 200, seed });
  if (details.failed) {
    console.error(fc.defaultReportMessage(details));
    console.error(`replay: node --import tsx scripts/fuzz-rtmp.ts --seconds 1 --seed ${seed}`);
    process.exit(1);
  }
  seed = (seed + 1) % 2 ** 31;
}

const elapsed = (Date.now() - started) / 1000;
console.log(`${cases} cases in ${elapsed.toFixed(1)}s: ${Math.round(cases / elapsed)} cases/s`);
console.log(`max buffered: ${maxBuffered} bytes (bound ${fuzzBufferBound})`);
for (const [outcome, n] of [...outcomes].sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(7)}  ${outcome}`);
