// The access hook (C, srt_binding.c) and origin/srt/streamid.ts must read a streamid the same way, and the hook's
// passphrase must be the one the edge hands out (shared/srt-passphrase.ts): a table of what callers send plus
// fast-check strings, through the binding's handshakeVerdict (the hook's own pure core).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadSrtBinding } from '../../../origin/srt/native.ts';
import { parseStreamId, MAX_STREAM_ID_LENGTH } from '../../../origin/srt/streamid.ts';
import { srtPassphraseFor } from '../../../shared/srt-passphrase.ts';

const binding = loadSrtBinding();
const SECRET = 'parity-test-origin-secret';
const KEY = 'sk_3kTq9ZxW1bNcV7mLp2RsY8dHfJ4gA6eU';

/** What streamid.ts + the edge's derivation say the hook must answer. */
async function expected(streamId: string): Promise<{ passphrase: string } | { reject: number }> {
  const parsed = parseStreamId(streamId);
  if (parsed.ok) return { passphrase: await srtPassphraseFor(SECRET, parsed.streamKey) };
  return { reject: parsed.refusal === 'unsupported_mode' ? 1405 : 1400 };
}

describe('the hook and streamid.ts agree', () => {
  const table = [
    `#!::r=${KEY},m=publish`, `#!::m=publish,r=${KEY}`, `#!::u=obs,r=${KEY},s=abc123,t=stream,m=publish,h=live.example.com`,
    `#!::r=${KEY}`, KEY, `%23!%3A%3Ar%3D${KEY}%2Cm%3Dpublish`, `%23%21%3A%3Ar%3D${KEY}%2Cm%3Dpublish`, '#!::r=live/abc:1,m=publish',
    '', `#!::r=${KEY},m=request`, `#!::r=${KEY},m=bidirectional`, `#!::r=${KEY},m=play`, '#!::m=publish', '#!::r=,m=publish',
    `#!::r=${KEY},publish`, `#!::r=${KEY},,m=publish`, `#!::r=${KEY},r=other,m=publish`, '#!::', `#!:{r=${KEY}}`, 'sk_abc def',
    'sk_abc,def', 'sk_clé', '%23!%3', `#!::r=${'k'.repeat(200)}`, `#!::r=${'k'.repeat(201)}`, 'k'.repeat(MAX_STREAM_ID_LENGTH),
    'k'.repeat(MAX_STREAM_ID_LENGTH + 1), '#!::u=John Smith,r=abc', '#!::=x,r=abc', '#!::r=a=b', '%7e%7E', '%', '%zz', '#!', '#!x',
  ];
  it('on a table of what callers send', async () => {
    for (const streamId of table) expect({ streamId, verdict: binding.handshakeVerdict(SECRET, streamId) }).toEqual({ streamId, verdict: await expected(streamId) });
  });

  it('on arbitrary strings and Access Control shapes', async () => {
    // A NUL ends a C string: libsrt hands the hook the streamid up to it, and the server's second look (which sees
    // the whole streamid) drops such a caller. Everything else must agree exactly.
    const arbitrary = fc.oneof(
      fc.string({ maxLength: 600 }),
      fc.string({ unit: 'binary', maxLength: 80 }).map((s) => `#!::${s}`),
      fc.array(fc.tuple(fc.constantFrom('r', 'm', 'u', 'x', ''), fc.constantFrom('publish', 'request', KEY, '', 'a=b', '%41', 'é')), { maxLength: 5 })
        .map((fields) => `#!::${fields.map(([k, v]) => `${k}=${v}`).join(',')}`),
    ).filter((s) => !s.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(arbitrary, async (streamId) => {
        expect(binding.handshakeVerdict(SECRET, streamId)).toEqual(await expected(streamId));
      }),
      { numRuns: 1000 },
    );
  });
});
