// Private playback through the edge with real media: a JWT signed by one of the workspace's keys opens the whole
// ladder (ffprobe follows the token through the rewritten playlists); no token, an expired one, one for another
// playback ID or one from a deleted key gets 403 and no media. The live thumbnail follows the same policy.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SignJWT, importPKCS8 } from 'jose';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { publish, ffprobe, type Publisher } from '../support/encoder.ts';

let stack: Stack;
let publisher: Publisher | null = null;
let key: { signingKeyId: string; privateKey: string };
let playbackId: string;

async function signingKey() {
  const response = await stack.api('POST', '/signing-keys');
  expect(response.status).toBe(201);
  return response.body.data as { signingKeyId: string; privateKey: string };
}

async function token(signer: { signingKeyId: string; privateKey: string }, sub: string, expiresInSeconds = 600) {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: signer.signingKeyId })
    .setSubject(sub)
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSeconds)
    .sign(await importPKCS8(Buffer.from(signer.privateKey, 'base64').toString('utf8'), 'RS256'));
}

const hls = (path: string) => fetch(`${stack.edgeUrl}/hls/${playbackId}/${path}`);

beforeAll(async () => {
  stack = await startStack();
  key = await signingKey();
  const stream = await stack.createStream({ accessPolicy: 'private', reconnectWindow: 0 });
  expect(stream.playbackIds[0].accessPolicy).toBe('private');
  playbackId = stream.playbackIds[0].id;
  publisher = publish(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${stream.streamKey}`, { size: '854x480' });
  await stack.waitForStatus(stream.streamId, 'STREAMING');
  const valid = await token(key, playbackId);
  // Two renditions with three segments each before anyone plays.
  await waitFor('the ladder through the edge', async () => {
    const master = await hls(`master.m3u8?token=${valid}`);
    if (!master.ok) return undefined;
    const variants = (await master.text()).split('\n').filter((l) => l && !l.startsWith('#'));
    if (variants.length < 2) return undefined;
    for (const variant of variants) {
      const media = await hls(variant);
      if (!media.ok || ((await media.text()).match(/#EXTINF/g)?.length ?? 0) < 3) return undefined;
    }
    return true;
  }, 40_000);
});

afterAll(async () => {
  await publisher?.kill();
  await stack?.stop();
});

describe('private playback through the edge', () => {
  it('refuses no token, an expired token, a token for another playback ID and one from a deleted key: 403, no media', async () => {
    const otherStream = await stack.createStream({ accessPolicy: 'private' });
    const doomed = await signingKey();
    const fromDeletedKey = await token(doomed, playbackId);
    expect((await stack.api('DELETE', `/signing-keys/${doomed.signingKeyId}`)).status).toBe(204);
    const valid = await token(key, playbackId);
    const sessionPath = (await (await hls(`master.m3u8?token=${valid}`)).text()).split('\n').find((l) => l && !l.startsWith('#'))!.split('?')[0]!;

    const cases = {
      missing: '',
      expired: `?token=${await token(key, playbackId, -30)}`,
      'wrong-playback-id': `?token=${await token(key, otherStream.playbackIds[0].id)}`,
      'unknown-key': `?token=${fromDeletedKey}`,
    };
    for (const [reason, query] of Object.entries(cases)) {
      for (const object of ['master.m3u8', sessionPath, sessionPath.replace('index.m3u8', 'seg_00000.ts'), 'thumbnail.jpg']) {
        const response = await hls(`${object}${query}`);
        expect(response.status, `${reason}: ${object}`).toBe(403);
        expect(response.headers.get('content-type')).toBe('application/problem+json');
        const body = await response.text();
        expect(JSON.parse(body).reason).toBe(reason);
        expect(body).not.toContain('#EXTM3U');
      }
    }
    await expect(ffprobe(`${stack.edgeUrl}/hls/${playbackId}/master.m3u8`)).rejects.toThrow();
  });

  it('a valid token plays the whole ladder with ffprobe through the edge', async () => {
    const valid = await token(key, playbackId);
    const master = await (await hls(`master.m3u8?token=${valid}`)).text();
    const variants = master.split('\n').filter((l) => l && !l.startsWith('#'));
    for (const variant of variants) expect(variant).toMatch(new RegExp(`^ses_[^/]+/[^/]+/index\\.m3u8\\?token=${valid.replaceAll('.', '\\.')}$`));
    const media = await (await hls(variants[0]!)).text();
    for (const uri of media.split('\n').filter((l) => l && !l.startsWith('#'))) expect(uri).toContain(`?token=${valid}`);

    const probe = await ffprobe(`${stack.edgeUrl}/hls/${playbackId}/master.m3u8?token=${valid}`);
    const heights = probe.streams.filter((s: any) => s.codec_type === 'video').map((s: any) => s.height).sort((a: number, b: number) => a - b);
    expect(heights).toEqual([360, 480]);
    expect(probe.streams.some((s: any) => s.codec_name === 'aac')).toBe(true);
  });

  it('the live thumbnail opens with the token too', async () => {
    const valid = await token(key, playbackId);
    const response = await waitFor('a thumbnail', async () => {
      const r = await hls(`thumbnail.jpg?token=${valid}`);
      return r.ok ? r : undefined;
    }, 20_000);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    expect(response.headers.get('cache-control')).toBe('private, max-age=4');
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    expect(bytes.length).toBeGreaterThan(1000);
  });
});
