// The dashboard in headless Chromium against the real stack: sign in with an access token, create a stream and read
// its key (hidden until revealed), publish to it with ffmpeg, see its status turn live without a reload, see the
// preview play (time advancing, a decoded frame that is not black), cut a clip from the player and see it become
// ready; API errors show as their problem title; a webhook delivery's failed response shows and Redeliver sends it
// again; a private stream's preview plays with a token the page signs; sign out forgets the token. Screenshots of the
// main pages at 1280 and 390 px go to test-results/screenshots/ (git-ignored) for a person to look at.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startStack, type Stack } from '../support/stack.ts';
import { launchBrowser, type HeadlessBrowser } from '../support/browser.ts';
import { publish, type Publisher } from '../support/encoder.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const SCREENSHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');
const WIDTHS = { laptop: { width: 1280, height: 860 }, phone: { width: 390, height: 844 } } as const;

let stack: Stack;
let browser: HeadlessBrowser;
let publisher: Publisher | undefined;
let receiver: WebhookReceiver | undefined;

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchBrowser()]);
  await mkdir(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await publisher?.kill();
  await receiver?.close();
  await browser?.close();
  await stack?.stop();
});

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });

/** The access token the stack's workspace was created with (stack.auth is its Basic header). */
function token(): { id: string; secret: string } {
  const [id, secret] = Buffer.from(stack.auth.replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
  return { id: id!, secret: secret! };
}

/** The video element's playback position and the mean brightness (0–255) of the frame it shows, drawn on a canvas
 * (page code: this file is typed for Node, so browser globals are reached through globalThis). */
async function videoState(page: Page): Promise<{ currentTime: number; brightness: number; width: number }> {
  return page.locator('.player video').first().evaluate((video: any) => {
    const canvas = (globalThis as any).document.createElement('canvas');
    canvas.width = 64;
    canvas.height = 36;
    const context = canvas.getContext('2d')!;
    context.drawImage(video, 0, 0, canvas.width, canvas.height);
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let sum = 0;
    for (let i = 0; i < pixels.length; i += 4) sum += (pixels[i]! + pixels[i + 1]! + pixels[i + 2]!) / 3;
    return { currentTime: video.currentTime, brightness: sum / (pixels.length / 4), width: video.videoWidth };
  });
}

describe('dashboard', () => {
  it('signs in, creates a stream, goes live without a reload, plays the preview, cuts a clip; errors show; sign out forgets', async () => {
    const { id, secret } = token();
    const { context, page } = await browser.newPage(WIDTHS.laptop);
    const requested: string[] = [];
    page.on('request', (request) => requested.push(request.url()));
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    const consoleLines: string[] = [];
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`.slice(0, 300)));

    // `/` sends people to the dashboard, which asks for a token first.
    const landing = await page.goto(`${stack.edgeUrl}/`);
    expect(landing?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/dashboard');
    await page.getByLabel('Access token id').waitFor();
    await shot(page, 'sign-in-1280');

    // A wrong secret: the API's problem title shows, nothing is stored.
    await page.getByLabel('Access token id').fill(id);
    await page.getByLabel('Secret').fill('not-the-secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('.problem').textContent()).toMatch(/\(401\)/);
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.length)).toBe(0);

    await page.getByLabel('Secret').fill(secret);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Live streams' }).waitFor();

    // Create: the settings show once, the key hidden until revealed.
    await page.getByRole('button', { name: 'New stream' }).click();
    await page.getByLabel('Name').fill('Dashboard e2e');
    await page.locator('input[name=reconnectWindow]').fill('5');
    await page.getByRole('button', { name: 'Create stream' }).click();
    const keyField = page.locator('.copy-field', { hasText: 'Stream key' });
    await keyField.waitFor();
    const hidden = await keyField.locator('.value').textContent();
    expect(hidden).toMatch(/^•+$/);
    await keyField.getByRole('button', { name: 'Reveal' }).click();
    const streamKey = (await keyField.locator('.value').textContent())!.trim();
    expect(streamKey.length).toBeGreaterThan(10);
    stack.addSecret('stream-key', streamKey); // the log scan looks for it in every log line
    expect(await page.locator('.copy-field', { hasText: 'Server' }).first().locator('.value').textContent()).toMatch(/^rtmp:\/\/127\.0\.0\.1:\d+\/live$/);
    await shot(page, 'stream-created-1280');

    const openLink = page.getByRole('link', { name: 'Open stream' });
    const streamId = (await openLink.getAttribute('href'))!.split('/').pop()!;
    await openLink.click();
    await page.locator('h1 .badge[data-status=NOT_STARTED]').waitFor();
    // Everything from here happens without a page load: a marker set now must still be there at the end.
    await page.evaluate(() => ((globalThis as any).__sameDocument = true));

    publisher = publish(`rtmp://127.0.0.1:${stack.ports.rtmp}/live/${streamKey}`, { size: '640x360' });
    const publishedAt = Date.now();
    await page.locator('h1 .badge[data-status=STREAMING]').waitFor({ timeout: 30_000 });
    const liveShownAfterMs = Date.now() - publishedAt;

    // The preview plays: its time advances and the frame it shows is not black (testsrc2 is bright and colourful).
    const video = page.locator('.player video').first();
    await video.waitFor({ timeout: 15_000 });
    await expect
      .poll(async () => (await videoState(page)).currentTime, { timeout: 30_000 })
      .toBeGreaterThan(0.5)
      .catch(async (error) => {
        await shot(page, 'failed-preview');
        const failure = await page.locator('.player-failure').allTextContents();
        throw new Error(`${String(error)}; player: ${failure.join(' ')}; console: ${consoleLines.slice(-10).join(' | ')}`);
      });
    const playingAt = Date.now();
    const first = await videoState(page);
    await page.waitForTimeout(2500);
    const second = await videoState(page);
    expect(second.currentTime - first.currentTime).toBeGreaterThan(1.5);
    expect(second.width).toBeGreaterThan(0);
    expect(second.brightness).toBeGreaterThan(40);
    await expect.poll(() => page.locator('.facts[data-health]').count(), { timeout: 15_000 }).toBe(1);
    // The encoder's cadence as the origin measured it (test/support/encoder.ts: 30 fps, a keyframe every 2 s).
    await expect.poll(() => page.locator('[data-field=frame-rate]').textContent(), { timeout: 15_000 }).toMatch(/^(29\.9\d|30(\.0\d)?) fps$/);
    await expect.poll(() => page.locator('[data-field=keyframe-interval]').textContent(), { timeout: 15_000 }).toMatch(/^(1\.9\d|2\.0\d) s$/);
    await shot(page, 'stream-live-1280');

    // A clip from the player: mark in, wait, mark out, name it, create; it shows as ready by itself.
    await page.getByRole('button', { name: 'Mark in' }).click();
    await page.waitForTimeout(4000);
    await page.getByRole('button', { name: 'Mark out' }).click();
    const marks = [await page.locator('[data-mark=in]').textContent(), await page.locator('[data-mark=out]').textContent()].map((t) => parseFloat(t!));
    expect(marks[1]! - marks[0]!).toBeGreaterThan(2);
    await page.locator('input[name=clip-name]').fill('dashboard clip');
    await page.getByRole('button', { name: 'Create clip' }).click();
    const clip = page.locator('.media-list li', { hasText: 'dashboard clip' });
    await clip.waitFor({ timeout: 15_000 });
    const clipAskedAt = Date.now();
    await clip.locator('[data-status=ready]').first().waitFor({ state: 'attached', timeout: 60_000 }).catch(async (error) => {
      throw new Error(`${String(error)}; clip row: ${await clip.textContent()}`);
    });
    const clipReadyAfterMs = Date.now() - clipAskedAt;
    const clipRange = (await clip.locator('.muted').first().textContent())!;
    expect(await clip.getByRole('link', { name: 'MP4' }).getAttribute('href')).toMatch(/\.mp4/);
    expect(await page.evaluate(() => (globalThis as any).__sameDocument)).toBe(true);
    await shot(page, 'stream-clip-1280');

    // Every page of the navigation, then the phone width; an API error on a form shows its problem title and detail.
    await page.getByRole('link', { name: 'Webhooks' }).click();
    await page.locator('input[name=url]').fill('ftp://example.com/hook');
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await expect.poll(() => page.locator('.problem').first().textContent()).toMatch(/\(400\)/);
    await shot(page, 'webhooks-error-1280');
    // An event from its form: its page shows its status, the operations it allows and (this once) its stream key.
    await page.getByRole('link', { name: 'Events' }).click();
    await page.getByRole('button', { name: 'New event' }).click();
    await page.locator('input[name=name]').fill('Dashboard launch');
    await page.getByRole('button', { name: 'Create event' }).click();
    await page.getByRole('heading', { name: /Dashboard launch/ }).waitFor();
    await page.getByRole('button', { name: 'Preview' }).waitFor();
    expect(await page.locator('.copy-field', { hasText: 'Stream key' }).count()).toBe(1);
    await shot(page, 'event-1280');
    await page.getByRole('link', { name: 'Webhooks' }).click();

    // An endpoint answering 500: the ping's delivery shows that response; once it answers 200, Redeliver succeeds.
    let receiverAnswer = 500;
    receiver = await startWebhookReceiver(() => receiverAnswer);
    await page.locator('input[name=url]').fill(receiver.url);
    await page.getByRole('button', { name: 'Add endpoint' }).click();
    const secretField = page.locator('.copy-field', { hasText: 'Secret' });
    await secretField.getByRole('button', { name: 'Reveal' }).click();
    stack.addSecret('webhook-secret', (await secretField.locator('.value').textContent())!.trim());
    await page.getByRole('link', { name: receiver.url }).click();
    await page.getByRole('button', { name: 'Send test ping' }).click();
    const delivery = page.locator('.deliveries > li', { hasText: 'webhook.ping' });
    await expect.poll(() => delivery.getAttribute('data-status'), { timeout: 20_000 }).toMatch(/retrying|failed/);
    if ((await delivery.locator('button.link').getAttribute('aria-expanded')) !== 'true') await delivery.locator('button.link').click();
    await expect.poll(() => delivery.textContent()).toContain('HTTP 500');
    // The receiver's own answer (test/support/webhook-receiver.ts) is shown with the failed attempt.
    await expect.poll(() => delivery.locator('.response-body pre').first().textContent()).toBe('failing on purpose');
    receiverAnswer = 200;
    await delivery.getByRole('button', { name: 'Redeliver' }).click();
    await delivery.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => delivery.getAttribute('data-status'), { timeout: 20_000 }).toBe('succeeded');
    if ((await delivery.locator('button.link').getAttribute('aria-expanded')) !== 'true') await delivery.locator('button.link').click();
    await expect.poll(() => delivery.textContent()).toContain('HTTP 200');
    await shot(page, 'webhook-deliveries-1280');
    for (const [name, width] of Object.entries(WIDTHS)) {
      await page.setViewportSize(width);
      for (const [label, file] of [
        ['Live streams', 'streams'],
        ['Events', 'events'],
        ['Videos', 'videos'],
        ['Destinations', 'destinations'],
        ['Webhooks', 'webhooks'],
      ] as const) {
        await page.locator('.top nav').getByRole('link', { name: label }).click();
        await page.locator('.content h1').first().waitFor();
        await page.waitForTimeout(300);
        await shot(page, `${file}-${name === 'laptop' ? 1280 : 390}`);
      }
      await page.goto(`${stack.edgeUrl}/dashboard/streams/${streamId}`); // a deep link loads too (still signed in)
      await page.locator('h1 .badge[data-status=STREAMING]').waitFor();
      await shot(page, `stream-${name === 'laptop' ? 1280 : 390}`);
    }

    // Made private, the preview plays with a token the page signs with a signing key it made for this session.
    expect((await stack.api('PATCH', `/live/streams/${streamId}`, { accessPolicy: 'private' })).status).toBe(200);
    await page.reload();
    await page.locator('h1 .badge[data-status=STREAMING]').waitFor();
    await expect.poll(async () => (await videoState(page)).currentTime, { timeout: 30_000 }).toBeGreaterThan(0.5);
    const privateFirst = await videoState(page);
    await page.waitForTimeout(2000);
    expect((await videoState(page)).currentTime - privateFirst.currentTime).toBeGreaterThan(1);
    const tokens = requested.filter((url) => url.includes('/hls/') && url.includes('token=')).map((url) => new URL(url).searchParams.get('token')!);
    expect(tokens.length).toBeGreaterThan(0);
    for (const jwt of new Set(tokens)) stack.addSecret('playback-jwt', jwt);
    const keys = (await stack.api('GET', '/signing-keys')).body.data;
    expect(keys).toHaveLength(1);
    const privateMp4 = await page.locator('.media-list li', { hasText: 'dashboard clip' }).getByRole('link', { name: 'MP4' }).getAttribute('href');
    expect(privateMp4).toContain('token=');
    expect((await fetch(privateMp4!)).status).toBe(200);
    expect((await fetch(privateMp4!.split('?')[0]!)).status).toBe(403);

    // The token never went into a URL; sign out forgets it (and deletes the preview signing key).
    expect(requested.filter((url) => url.includes(secret))).toEqual([]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Access token id').waitFor();
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.length)).toBe(0);
    await expect.poll(async () => (await stack.api('GET', '/signing-keys')).body.data.length).toBe(0);
    expect(pageErrors).toEqual([]);
    await context.close();
    console.log(JSON.stringify({ figure: 'dashboard', liveShownAfterMs, previewPlayingAfterPublishMs: playingAt - publishedAt, clipReadyAfterMs, marks, clipRange }));
  });
});
