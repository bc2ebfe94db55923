// The embed player in headless Chromium against the whole stack: a private live stream published with ffmpeg shows
// the "private" message without a token and plays with one (hls.js through MSE: the video's time advances, a decoded
// frame drawn on a canvas is not black, the LIVE badge shows); a stream that has not started shows that message; an
// unknown playback ID gets a readable page. One live stream keeps the run short on 2 cores.
import path from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { SignJWT, importPKCS8 } from 'jose';
import type { Page } from 'playwright-core';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { publish, type Publisher } from '../support/encoder.ts';
import { launchBrowser, type HeadlessBrowser } from '../support/browser.ts';
import { recordingOf } from '../support/stack-reads.ts';

/** Screenshots for a person to look at (not committed; test-results/ is git-ignored). */
const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `embed-${name}.png`) });

let stack: Stack;
let browser: HeadlessBrowser;
let publisher: Publisher | null = null;
let signingKey: { signingKeyId: string; privateKey: string };
let liveStreamId: string;
let privateId: string;
let idleId: string;
let viewerToken: string;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  signingKey = (await stack.api('POST', '/signing-keys')).body.data;
  const live = await stack.createStream({ accessPolicy: 'private', reconnectWindow: 0, record: true });
  liveStreamId = live.streamId;
  privateId = live.playbackIds[0].id;
  idleId = (await stack.createStream({})).playbackIds[0].id;
  viewerToken = await playbackToken(privateId);
  publisher = publish(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${live.streamKey}`, { size: '640x360', videoBitrate: '400k' });
  await stack.waitForStatus(live.streamId, 'STREAMING');
  await waitFor('the master playlist through the edge', async () => {
    const master = await fetch(`${stack.edgeUrl}/hls/${privateId}/master.m3u8?token=${viewerToken}`);
    return master.ok ? true : undefined;
  }, 30_000);
});

afterAll(async () => {
  await browser?.close();
  await publisher?.kill();
  await stack?.stop();
});

/** A viewer's token for a private playback ID, signed with the workspace's key. */
async function playbackToken(playbackId: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: signingKey.signingKeyId })
    .setSubject(playbackId)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(await importPKCS8(Buffer.from(signingKey.privateKey, 'base64').toString('utf8'), 'RS256'));
}

/** The page's message panel: whether it shows, and its title. */
async function message(page: Page): Promise<{ visible: boolean; title: string }> {
  const panel = page.locator('#message');
  return { visible: await panel.isVisible(), title: (await panel.locator('h1').textContent()) ?? '' };
}

/** The video's position and the mean brightness (0–255) of the frame it shows, drawn on a 64×36 canvas. */
function videoState(page: Page): Promise<{ currentTime: number; brightness: number; width: number }> {
  return page.locator('#video').evaluate((video: any) => {
    const canvas = (globalThis as any).document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 36;
    const context = canvas.getContext('2d');
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const pixels: Uint8ClampedArray = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) sum += (pixels[i]! + pixels[i + 1]! + pixels[i + 2]!) / 3;
    return { currentTime: video.currentTime as number, brightness: sum / (pixels.length / 4), width: video.videoWidth as number };
  });
}

describe('embed player in Chromium', () => {
  it('a private live stream: a clear refusal without a token; with one it plays live (time advancing, a real frame, LIVE badge)', async () => {
    const { context, page } = await browser.newPage({ width: 960, height: 540 });
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    // The page's Content-Security-Policy must let hls.js do its work (blob: media and worker, same-origin fetches).
    page.on('console', (entry) => {
      if (/Content Security Policy/i.test(entry.text())) pageErrors.push(entry.text());
    });
    try {
      const refused = await page.goto(`${stack.edgeUrl}/embed/${privateId}`);
      expect(refused?.status()).toBe(403);
      expect(await message(page)).toEqual({ visible: true, title: 'This video is private' });
      expect(await page.locator('#message p').textContent()).toContain('token');
      await shot(page, 'private-no-token');

      const hlsRequests: string[] = [];
      page.on('request', (request) => {
        if (request.url().includes('/hls/')) hlsRequests.push(request.url());
      });
      const allowed = await page.goto(`${stack.edgeUrl}/embed/${privateId}?token=${viewerToken}`);
      expect(allowed?.status()).toBe(200);
      const first = await waitFor('the video playing', async () => {
        const state = await videoState(page);
        return state.currentTime > 1 && state.width > 0 ? state : undefined;
      }, 30_000);
      await page.waitForTimeout(2000);
      const later = await videoState(page);
      expect(later.currentTime, 'the video keeps playing').toBeGreaterThan(first.currentTime + 1);
      // testsrc2's colour bars: far from black (a black frame is ~16 in limited range, 0 in full range).
      expect(later.brightness).toBeGreaterThan(40);
      await shot(page, 'live');
      expect(await page.locator('#live-badge').isVisible()).toBe(true);
      expect((await message(page)).visible).toBe(false);
      // Every media request carried the token (it went on to /hls and nowhere else).
      expect(hlsRequests.length).toBeGreaterThan(2);
      for (const url of hlsRequests) expect(url, url).toContain(`token=${viewerToken}`);

      // DVR: once the window holds enough, going 10 s back shows the jump-to-live button; pressing it returns to the
      // live position and hides it.
      const jump = page.locator('#jump-live');
      expect(await jump.isVisible()).toBe(false);
      await waitFor('a 16 s DVR window', async () => {
        const span = (await page.evaluate('(v => v.seekable.length ? v.seekable.end(0) - v.seekable.start(0) : 0)(document.getElementById("video"))')) as number;
        return span >= 16 ? true : undefined;
      }, 30_000);
      await page.locator('#video').evaluate((video: any) => (video.currentTime = Math.max(video.seekable.start(0), video.currentTime - 10)));
      await jump.waitFor({ state: 'visible', timeout: 5000 });
      const behind = Number(await page.evaluate('document.body.dataset.behind'));
      await shot(page, 'dvr-behind');
      await jump.click();
      await jump.waitFor({ state: 'hidden', timeout: 5000 });
      expect(Number(await page.evaluate('document.body.dataset.behind'))).toBeLessThan(behind - 5);

      // The encoder stops (no reconnect window): the page says the stream has ended.
      await publisher!.kill();
      publisher = null;
      await page.locator('#message h1', { hasText: 'The stream has ended' }).waitFor({ state: 'visible', timeout: 30_000 });
      expect(await page.locator('#live-badge').isVisible()).toBe(false);
      await shot(page, 'ended');
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("the ended broadcast's recording plays as VOD (no LIVE badge)", async () => {
    const recording = await waitFor('the recording watchable', async () => {
      const found = await recordingOf(stack, liveStreamId);
      return found?.watchable ? found : undefined;
    }, 30_000);
    const { context, page } = await browser.newPage({ width: 960, height: 540 });
    try {
      const response = await page.goto(`${stack.edgeUrl}/embed/${recording.playbackId}?token=${await playbackToken(recording.playbackId)}`);
      expect(response?.status()).toBe(200);
      const playing = await waitFor('the recording playing', async () => {
        const state = await videoState(page);
        return state.currentTime > 1 && state.width > 0 ? state : undefined;
      }, 20_000);
      expect(playing.brightness).toBeGreaterThan(40);
      expect(await page.locator('#live-badge').isVisible()).toBe(false);
      expect(await page.locator('#jump-live').isVisible()).toBe(false);
      await shot(page, 'recording');
    } finally {
      await context.close();
    }
  });

  it('a stream that has not started, and an unknown playback ID: a message, not a blank frame', async () => {
    const { context, page } = await browser.newPage({ width: 640, height: 360 });
    try {
      const idle = await page.goto(`${stack.edgeUrl}/embed/${idleId}`);
      expect(idle?.status()).toBe(200);
      expect(await message(page)).toEqual({ visible: true, title: 'This stream is not live' });
      expect(await page.locator('#live-badge').isVisible()).toBe(false);
      await shot(page, 'not-started');

      const unknown = await page.goto(`${stack.edgeUrl}/embed/no-such-playback-id`);
      expect(unknown?.status()).toBe(404);
      expect(await message(page)).toEqual({ visible: true, title: 'Video not found' });
    } finally {
      await context.close();
    }
  });
});
