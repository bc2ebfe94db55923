// GET /embed/{playbackId}[?token=]: the embeddable player page (./embed-page.ts). Before answering, the page asks the
// playback route itself for the master playlist — in-process, with the framing page's Origin/Referer and the viewer's
// token — so every playback rule (private tokens, an event's allowed domains and schedule, not live, not ready) is the
// one edge/routes/playback.ts applies, and the page opens with its message (or plays) instead of a blank frame.
// No access token: the page is public; a private playback ID's token only ever goes on to /hls requests.
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../env.ts';
import { onError, onNotFound } from '../middleware/errors.ts';
import { playbackRoutes } from '../routes/playback.ts';
import { assetPath } from './assets.ts';
import { embedPage, embedPageHeaders } from './embed-page.ts';
import { playerStatus, type PlayerStatus } from './player-status.ts';

export const embedRoutes = new Hono<AppEnv>();

/** The playback routes on their own, with the edge's problem mapping: what a player's first request would get. */
const playback = new Hono<AppEnv>();
playback.onError(onError);
playback.notFound(onNotFound);
playback.route('/hls', playbackRoutes);

const PLAYBACK_ID = /^[A-Za-z0-9_-]{1,128}$/;
const STATUS_FOR = { unknown: 404, refused: 403 } as const;

embedRoutes.get('/:playbackId', async (c) => {
  const playbackId = c.req.param('playbackId');
  const token = c.req.query('token') || null;
  const query = token ? `?token=${encodeURIComponent(token)}` : '';
  const base = `/hls/${encodeURIComponent(playbackId)}`;
  const status = PLAYBACK_ID.test(playbackId) ? await probe(c, `${base}/master.m3u8${query}`) : playerStatus(404, { type: 'not-found', detail: 'no such playback id' });
  const nonce = crypto.randomUUID().replaceAll('-', '');
  const html = embedPage({
    src: `${base}/master.m3u8${query}`,
    poster: status.state === 'playable' ? `${base}/thumbnail.jpg${query}` : null,
    status,
    hlsScript: assetPath('hls.js'),
    playerScript: assetPath('player.js'),
    nonce,
  });
  const code = status.state === 'unknown' || status.state === 'refused' ? STATUS_FOR[status.state] : 200;
  return c.html(html, code, embedPageHeaders(nonce));
});

/** The playback route's answer for the master playlist, as the player will get it. */
async function probe(c: Context<AppEnv>, path: string): Promise<PlayerStatus> {
  const headers = new Headers();
  // Who frames the page is who the allowed-domains rule is about (edge/allowed-domains.ts requestPageHost).
  for (const name of ['origin', 'referer']) {
    const value = c.req.header(name);
    if (value) headers.set(name, value);
  }
  const response = await playback.fetch(new Request(new URL(path, c.req.url), { headers }), c.env, c.executionCtx);
  if (response.ok) {
    await response.body?.cancel();
    return playerStatus(response.status);
  }
  const problem = await response.json().catch(() => ({}));
  return playerStatus(response.status, problem as object);
}
