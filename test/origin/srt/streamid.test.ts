// The streamid parser: a table of what callers send (OBS, ffmpeg with and without URL decoding, hand-written
// Access Control strings) and fast-check properties (any key round-trips; any string parses without throwing).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseStreamId, MAX_STREAM_ID_LENGTH } from '../../../origin/srt/streamid.ts';

const KEY = 'sk_3kTq9ZxW1bNcV7mLp2RsY8dHfJ4gA6eU';

describe('parseStreamId', () => {
  const accepted: [string, string, string][] = [
    ['Access Control, resource first', `#!::r=${KEY},m=publish`, KEY],
    ['Access Control, mode first', `#!::m=publish,r=${KEY}`, KEY],
    ['other keys are ignored', `#!::u=obs,r=${KEY},s=abc123,t=stream,m=publish,h=live.example.com`, KEY],
    ['no mode means publish (the only thing this port does)', `#!::r=${KEY}`, KEY],
    ['bare key', KEY, KEY],
    ['percent-encoded as ffmpeg 5.1 sends it from our URL', `%23!%3A%3Ar%3D${KEY}%2Cm%3Dpublish`, KEY],
    ['percent-encoded with ! encoded too', `%23%21%3A%3Ar%3D${KEY}%2Cm%3Dpublish`, KEY],
    ['a value may contain ":" and "/"', '#!::r=live/abc:1,m=publish', 'live/abc:1'],
  ];
  for (const [name, input, key] of accepted) {
    it(`accepts ${name}`, () => expect(parseStreamId(input)).toEqual({ ok: true, streamKey: key }));
  }

  const refused: [string, string | null | undefined, string][] = [
    ['no streamid', '', 'missing'],
    ['null', null, 'missing'],
    ['undefined', undefined, 'missing'],
    ['m=request: playback is not served over SRT', `#!::r=${KEY},m=request`, 'unsupported_mode'],
    ['m=bidirectional', `#!::r=${KEY},m=bidirectional`, 'unsupported_mode'],
    ['an unknown mode', `#!::r=${KEY},m=play`, 'malformed'],
    ['no resource', '#!::m=publish', 'malformed'],
    ['an empty resource', '#!::r=,m=publish', 'malformed'],
    ['an item without =', `#!::r=${KEY},publish`, 'malformed'],
    ['an empty item', `#!::r=${KEY},,m=publish`, 'malformed'],
    ['a key given twice', `#!::r=${KEY},r=other,m=publish`, 'malformed'],
    ['an empty body', '#!::', 'malformed'],
    ['the nested form', `#!:{r=${KEY}}`, 'malformed'],
    ['a bare key with a space', 'sk_abc def', 'malformed'],
    ['a bare key with a comma', 'sk_abc,def', 'malformed'],
    ['a control character', 'sk_abc\u0000', 'malformed'],
    ['non-ASCII', 'sk_clé', 'malformed'],
    ['a broken percent-encoding', '%23!%3', 'malformed'],
    ['a key longer than 200 characters', `#!::r=${'k'.repeat(201)}`, 'malformed'],
    ['a streamid longer than libsrt allows', 'k'.repeat(MAX_STREAM_ID_LENGTH + 1), 'malformed'],
  ];
  for (const [name, input, refusal] of refused) {
    it(`refuses ${name}`, () => {
      const parsed = parseStreamId(input);
      expect(parsed).toMatchObject({ ok: false, refusal });
      if (!parsed.ok) expect(parsed.detail.length).toBeGreaterThan(0);
    });
  }
});

describe('parseStreamId properties', () => {
  const keyArb = fc.stringMatching(/^[A-Za-z0-9_]{1,64}$/);
  const extraArb = fc.array(fc.tuple(fc.constantFrom('u', 's', 't', 'h', 'x'), fc.stringMatching(/^[a-z0-9.]{0,12}$/)), { maxLength: 4 });

  it('finds the key whatever the order of the other fields, raw or percent-encoded', () => {
    fc.assert(
      fc.property(keyArb, extraArb, fc.boolean(), fc.boolean(), (key, extra, modeFirst, encoded) => {
        const uniqueExtra = [...new Map(extra).entries()];
        const fields = [`r=${key}`, ...uniqueExtra.map(([k, v]) => `${k}=${v}`)];
        if (modeFirst) fields.unshift('m=publish');
        else fields.push('m=publish');
        const streamId = `#!::${fields.join(',')}`;
        const sent = encoded ? encodeURIComponent(streamId) : streamId;
        expect(parseStreamId(sent)).toEqual({ ok: true, streamKey: key });
        expect(parseStreamId(key)).toEqual({ ok: true, streamKey: key });
      }),
    );
  });

  it('never throws, and an accepted key is always printable ASCII without separators', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 600 }), fc.string({ unit: 'binary', maxLength: 80 }).map((s) => `#!::${s}`)), (input) => {
        const parsed = parseStreamId(input);
        if (parsed.ok) expect(parsed.streamKey).toMatch(/^[\x21-\x2b\x2d-\x3c\x3e-\x7e]{1,200}$/);
      }),
    );
  });
});
