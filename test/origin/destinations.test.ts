// Simulcast's pure parts: target diffing, the relayed timeline across legs and gaps, FLV tag reading, run-end verdicts
// (retry or failed with the server's reason), backoff, redaction of keys, and the relays' place in the capacity ledger.
import { describe, expect, it } from 'vitest';
import { diffTargets, type RelayTarget } from '../../origin/destinations/target-diff.ts';
import { FILL_INTERVAL_MS, IDLE_BEFORE_FILL_MS, JoinGate, RelayTimeline } from '../../origin/destinations/relay-timeline.ts';
import { FlvTagReader, encodeTag, isKeyframe, type MediaTag } from '../../origin/destinations/flv-tags.ts';
import { REFUSALS_BEFORE_FAILED, RETRY_FIRST_MS, RETRY_MAX_MS, judgeRunEnd, progressBytes, redactUrl, retryDelay, scrub } from '../../origin/destinations/relay-status.ts';
import { flvHeader } from '../../origin/media/flv-muxer.ts';
import { tagOf } from '../../origin/destinations/destinations.ts';
import { CapacityLedger } from '../../origin/admission/ledger.ts';
import { RELAY_COST } from '../../origin/admission/cost.ts';

const target = (id: string, revision = 1, rendition = 'source'): RelayTarget => ({ destinationId: id, url: `rtmp://127.0.0.1:1935/live/key-${id}-${revision}`, rendition, revision });

describe('target diffing', () => {
  it('starts new targets, stops removed ones, restarts only a changed revision', () => {
    const running = new Map([['a', target('a')], ['b', target('b')], ['c', target('c')]]);
    const diff = diffTargets(running, [target('a'), target('b', 2), target('d')]);
    expect(diff.start.map((t) => t.destinationId)).toEqual(['d']);
    expect(diff.restart.map((t) => [t.destinationId, t.revision])).toEqual([['b', 2]]);
    expect(diff.stop).toEqual(['c']);
    expect(diff.unchanged).toEqual(['a']);
  });

  it('an empty desired set stops everything; the same set changes nothing', () => {
    const running = new Map([['a', target('a')]]);
    expect(diffTargets(running, []).stop).toEqual(['a']);
    const same = diffTargets(running, [target('a')]);
    expect([same.start, same.restart, same.stop]).toEqual([[], [], []]);
  });

  it('a changed rendition restarts even under the same revision; a duplicated id counts once (the last wins)', () => {
    const running = new Map([['a', target('a')]]);
    expect(diffTargets(running, [target('a', 1, '720p')]).restart).toHaveLength(1);
    const diff = diffTargets(new Map(), [target('x', 1), target('x', 2)]);
    expect(diff.start).toEqual([target('x', 2)]);
  });
});

const avcConfig: MediaTag = { type: 9, timestamp: 0, data: Buffer.from([0x17, 0, 0, 0, 0, 1, 2, 3]) };
const aacConfig: MediaTag = { type: 8, timestamp: 0, data: Buffer.from([0xaf, 0, 0x11, 0x90]) };
const key = (ts: number): MediaTag => ({ type: 9, timestamp: ts, data: Buffer.from([0x17, 1, 0, 0, 0x21, 9, 9, 9]) });
const inter = (ts: number): MediaTag => ({ type: 9, timestamp: ts, data: Buffer.from([0x27, 1, 0, 0, 0x21, 8]) });
const audio = (ts: number): MediaTag => ({ type: 8, timestamp: ts, data: Buffer.from([0xaf, 1, 5, 5]) });

describe('relay timeline', () => {
  it('a resumed leg continues right after the last tag and drops identical codec configuration', () => {
    const t = new RelayTimeline();
    const out: MediaTag[] = [];
    let now = 0;
    for (const tag of [avcConfig, aacConfig, key(0), audio(10), inter(33), key(2000)]) out.push(...t.take(tag, now++));
    t.endLeg();
    t.startLeg();
    // The encoder is back: its timestamps start again from zero, its configuration is sent again.
    for (const tag of [avcConfig, aacConfig, key(0), inter(33)]) out.push(...t.take(tag, now++));
    const media = out.filter((tag) => tag.data[1] !== 0);
    expect(media.map((tag) => tag.timestamp)).toEqual([0, 10, 33, 2000, 2040, 2073]);
    expect(out.filter((tag) => tag.data[1] === 0)).toHaveLength(2);
  });

  it('while the encoder is gone and the input idle, the last keyframe repeats (no CTS), then the next leg follows it', () => {
    const t = new RelayTimeline();
    t.take(avcConfig, 0);
    t.take(key(0), 0);
    t.take(inter(500), 100);
    expect(t.fill(5000)).toEqual([]); // encoder still there
    t.endLeg();
    expect(t.fill(100 + IDLE_BEFORE_FILL_MS - 1)).toEqual([]); // a rung's last segment may still come
    const [first] = t.fill(100 + IDLE_BEFORE_FILL_MS) as [MediaTag]; // no sound in this stream: the keyframe alone
    const [second] = t.fill(100 + IDLE_BEFORE_FILL_MS + FILL_INTERVAL_MS) as [MediaTag];
    expect([first.timestamp, second.timestamp]).toEqual([500 + FILL_INTERVAL_MS, 500 + 2 * FILL_INTERVAL_MS]);
    expect(isKeyframe(first)).toBe(true);
    expect([...first.data.subarray(2, 5)]).toEqual([0, 0, 0]);
    t.startLeg();
    expect(t.fill(10_000)).toHaveLength(1); // the new leg's media has not arrived yet: still filled
    const next = t.take(key(0), 10_001);
    expect(next[0]!.timestamp).toBe(500 + 3 * FILL_INTERVAL_MS + 40);
    expect(t.fill(20_000)).toEqual([]);
  });

  it('with AAC-LC sound, silent frames on the sample clock go with each repeated keyframe, up to it and no gap', () => {
    const t = new RelayTimeline();
    const stereo48k: MediaTag = { type: 8, timestamp: 0, data: Buffer.from([0xaf, 0, 0x11, 0x90]) }; // LC, 48 kHz, 2 ch
    const frameMs = (1024 * 1000) / 48_000;
    t.take(avcConfig, 0);
    t.take(stereo48k, 0);
    t.take(key(0), 0);
    t.take(audio(490), 100); // the source's last sound ends at 490 + one frame
    t.take(inter(500), 100);
    t.endLeg();
    const filled = [...t.fill(100 + IDLE_BEFORE_FILL_MS), ...t.fill(100 + IDLE_BEFORE_FILL_MS + FILL_INTERVAL_MS)];
    const video = filled.filter((tag) => tag.type === 9);
    const sound = filled.filter((tag) => tag.type === 8);
    expect(video.map((tag) => tag.timestamp)).toEqual([500 + FILL_INTERVAL_MS, 500 + 2 * FILL_INTERVAL_MS]);
    // Every frame is a raw AAC frame of the stream's own format byte, the first where the source's sound ended.
    expect(sound.every((tag) => tag.data[0] === 0xaf && tag.data[1] === 1 && tag.data.length > 2)).toBe(true);
    expect(sound[0]!.timestamp).toBe(Math.round(490 + frameMs));
    const steps = sound.slice(1).map((tag, i) => tag.timestamp - sound[i]!.timestamp);
    expect(Math.min(...steps)).toBeGreaterThanOrEqual(Math.floor(frameMs));
    expect(Math.max(...steps)).toBeLessThanOrEqual(Math.ceil(frameMs));
    expect(sound.at(-1)!.timestamp).toBeLessThanOrEqual(500 + 2 * FILL_INTERVAL_MS);
    expect(sound.at(-1)!.timestamp).toBeGreaterThan(500 + 2 * FILL_INTERVAL_MS - frameMs);
    // In timestamp order as given out: each frame before the keyframe it reaches.
    const stamps = filled.map((tag) => tag.timestamp);
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
  });

  it('no silence for sound it cannot match (HE-AAC, 5.1): the keyframe alone, as before', () => {
    for (const asc of [[0x2b, 0x92], [0x11, 0xb0]]) { // object type 5 (SBR) 48 kHz stereo; LC 48 kHz 6 channels
      const t = new RelayTimeline();
      t.take({ type: 8, timestamp: 0, data: Buffer.from([0xaf, 0, ...asc]) }, 0);
      t.take(key(0), 0);
      t.endLeg();
      expect(t.fill(IDLE_BEFORE_FILL_MS + FILL_INTERVAL_MS).map((tag) => tag.type)).toEqual([9]);
    }
  });

  it('a jump inside one leg (a rung reader restarted) is laid end to end too', () => {
    const t = new RelayTimeline();
    t.take(key(5000), 0);
    t.take(inter(5040), 1);
    expect(t.take(key(100), 2)[0]!.timestamp).toBe(80);
    expect(t.take(inter(140), 3)[0]!.timestamp).toBe(120);
  });

  it('a joining relay gets metadata and configuration first, then nothing until a keyframe', () => {
    const t = new RelayTimeline();
    t.take({ type: 18, timestamp: 0, data: Buffer.from('meta') }, 0);
    t.take(avcConfig, 0);
    t.take(aacConfig, 0);
    expect(t.joinHeaders().map((tag) => tag.type)).toEqual([18, 9, 8]);
    const gate = new JoinGate();
    expect([audio(0), inter(10), key(20), audio(25), inter(30)].map((tag) => gate.pass(tag))).toEqual([false, false, true, true, true]);
  });
});

describe('FLV tag reader', () => {
  it('reads tags across any chunking and gives back what the muxer wrote', () => {
    const tags = [avcConfig, key(0), audio(21), { type: 9 as const, timestamp: 0x1234567, data: Buffer.alloc(70_000, 7) }];
    const bytes = Buffer.concat([flvHeader({ audio: true, video: true }), ...tags.map(encodeTag)]);
    for (const size of [97, 4096, bytes.length]) {
      const reader = new FlvTagReader();
      const out: MediaTag[] = [];
      for (let i = 0; i < bytes.length; i += size) out.push(...reader.push(bytes.subarray(i, i + size)));
      expect(out.map((t) => [t.type, t.timestamp, t.data.length])).toEqual(tags.map((t) => [t.type, t.timestamp, t.data.length]));
    }
  });

  it('stops at a stream that is not FLV or a tag beyond its bound', () => {
    const reader = new FlvTagReader();
    expect(reader.push(Buffer.from('GET / HTTP/1.1\r\n\r\n'))).toEqual([]);
    expect(reader.broken).toMatch(/not an FLV/);
    const big = new FlvTagReader();
    const head = Buffer.from([9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    big.push(Buffer.concat([flvHeader({ audio: true, video: true }), head]));
    expect(big.broken).toMatch(/bytes/);
  });

  it('RTMP media becomes tags with the payload as body; onMetaData as an AMF script body', () => {
    const meta = tagOf({ type: 'metadata', properties: { width: 640 } });
    expect(meta.type).toBe(18);
    expect(meta.data.subarray(3, 13).toString()).toBe('onMetaData');
    expect(tagOf({ type: 'video', timestamp: 40, payload: Buffer.from([0x17, 1]) })).toMatchObject({ type: 9, timestamp: 40 });
  });
});

describe('run-end verdicts', () => {
  it("the server's own error is a refusal that will not change: failed at once, with its reason", () => {
    const verdict = judgeRunEnd({ wentLive: false, stderrTail: ['[rtmp @ 0x1] Server error: Authentication failed (bad key)', 'x: Operation not permitted'] }, 0);
    expect(verdict).toEqual({ kind: 'failed', error: 'the server refused the publish: Authentication failed (bad key)' });
  });

  it('closed right after the publish: retried, then failed after several in a row', () => {
    const tail = ['av_interleaved_write_frame(): Broken pipe', 'Error closing file rtmp://h/app/***: Broken pipe'];
    expect(judgeRunEnd({ wentLive: false, stderrTail: tail }, 0)).toMatchObject({ kind: 'retry', refusal: true, error: expect.stringContaining('av_interleaved_write_frame(): Broken pipe') });
    expect(judgeRunEnd({ wentLive: false, stderrTail: tail }, REFUSALS_BEFORE_FAILED - 1)).toMatchObject({ kind: 'failed' });
  });

  it('an unreachable server, a drop after going live, a slow or stalled target: always retried', () => {
    const refused = ['[tcp @ 0x1] Connection to tcp://127.0.0.1:1 failed: Connection refused', 'rtmp://127.0.0.1:1/live/***: Connection refused'];
    expect(judgeRunEnd({ wentLive: false, stderrTail: refused }, 10)).toMatchObject({ kind: 'retry', refusal: false });
    expect(judgeRunEnd({ wentLive: true, stderrTail: ['av_interleaved_write_frame(): Broken pipe'] }, 10)).toMatchObject({ kind: 'retry', refusal: false });
    expect(judgeRunEnd({ wentLive: false, stderrTail: [], killedFor: 'slow' }, 10)).toMatchObject({ kind: 'retry', error: expect.stringContaining('too slowly') });
    expect(judgeRunEnd({ wentLive: true, stderrTail: [], killedFor: 'stalled' }, 10)).toMatchObject({ kind: 'retry' });
  });

  it('backoff doubles from the first step to the cap, with ±20 % jitter', () => {
    expect(retryDelay(0, () => 0.5)).toBe(RETRY_FIRST_MS);
    expect(retryDelay(3, () => 0.5)).toBe(RETRY_FIRST_MS * 8);
    expect(retryDelay(50, () => 0.5)).toBe(RETRY_MAX_MS);
    expect(retryDelay(50, () => 0)).toBe(RETRY_MAX_MS * 0.8);
    expect(retryDelay(50, () => 1)).toBe(RETRY_MAX_MS * 1.2);
  });

  it('progress lines give the bytes sent', () => {
    expect(progressBytes('total_size=12345')).toBe(12345);
    expect(progressBytes('out_time_ms=1')).toBeNull();
  });
});

describe('keys never leave the relay', () => {
  it('URLs are shown without their key; ffmpeg lines are scrubbed of the URL, the key and the query', () => {
    const url = 'rtmps://live-api-s.facebook.com:443/rtmp/FB-123-secretkey?s_bl=1&s_sc=xyz';
    expect(redactUrl(url)).toBe('rtmps://live-api-s.facebook.com:443/rtmp/***');
    const line = scrub(`[rtmp @ 0x1] Error: ${url} and FB-123-secretkey and s_bl=1&s_sc=xyz`, url);
    expect(line).not.toMatch(/secretkey|s_sc/);
    expect(redactUrl('rtmp://a.rtmp.youtube.com/live2/abcd-efgh-ijkl-mnop')).toBe('rtmp://a.rtmp.youtube.com/live2/***');
  });
});

describe('relays in the capacity ledger', () => {
  it('each relay holds a small copy cost until released (once), and is not a session', () => {
    const ledger = new CapacityLedger(1);
    const release = ledger.holdRelay();
    ledger.holdRelay();
    expect(ledger.loadUnits).toBeCloseTo(2 * RELAY_COST);
    expect(ledger.sessions).toBe(0);
    release();
    release();
    expect(ledger.loadUnits).toBeCloseTo(RELAY_COST);
  });
});
