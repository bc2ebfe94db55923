// The pure rules of simulcast destinations (issue 14): platform presets and key shapes, server URL checks, the rendition
// names a stream's ladder can have, the hosts a destination may name (webhooks' rules), the status the API shows, and
// which webhook a relay's status change makes.
import { describe, it, expect } from 'vitest';
import { checkDestinationUrl, checkStreamKey, publishUrl, serverUrlFor, PLATFORM_PRESETS } from '../../shared/destination-platforms.ts';
import { allowedRenditions, destinationStatus, redactKey, redactPublishPath, resolveDestination, statusWebhook } from '../../edge/stream/destinations.ts';

const ladder = { profiles: null, maxResolution: '1080p' as const };
/** A deployed edge, and one in local development (WEBHOOK_ALLOW_HTTP_LOOPBACK, or the API called on loopback). */
const production = { allowLoopback: false };
const development = { allowLoopback: true };
const YOUTUBE_KEY = 'abcd-efgh-ijkl-mnop-qrst';
const TWITCH_KEY = 'live_123456789_AbCdEfGhIjKlMnOpQrStUvWxYz0123';

describe('platform presets', () => {
  it('fill the server URL of each platform, and the publish URL ends with the key', () => {
    expect(serverUrlFor('youtube', undefined)).toEqual({ url: 'rtmp://a.rtmp.youtube.com/live2' });
    expect(serverUrlFor('twitch', undefined)).toEqual({ url: 'rtmp://live.twitch.tv/app' });
    expect(serverUrlFor('facebook', undefined)).toEqual({ url: 'rtmps://live-api-s.facebook.com:443/rtmp' });
    expect(serverUrlFor('rtmp', undefined)).toMatchObject({ field: 'url' });
    expect(publishUrl('rtmp://a.rtmp.youtube.com/live2/', YOUTUBE_KEY)).toBe(`rtmp://a.rtmp.youtube.com/live2/${YOUTUBE_KEY}`);
  });

  it("check the key's shape per platform, without echoing the key", () => {
    expect(checkStreamKey('youtube', YOUTUBE_KEY)).toBeNull();
    expect(checkStreamKey('twitch', TWITCH_KEY)).toBeNull();
    expect(checkStreamKey('facebook', 'FB-1234567890123456-0-AbCdEfGhIjKlMnOp')).toBeNull();
    expect(checkStreamKey('facebook', '1234567890123456?s_bl=1&s_ps=1&a=AbCdEfGh')).toBeNull();
    expect(checkStreamKey('rtmp', 'anything_goes-42')).toBeNull();
    const wrong = checkStreamKey('youtube', 'live_secret_twitch_key_0123');
    expect(wrong).toMatchObject({ field: 'streamKey' });
    expect(wrong!.message).toContain(PLATFORM_PRESETS.youtube.label);
    expect(wrong!.message).not.toContain('secret');
    expect(checkStreamKey('twitch', YOUTUBE_KEY)).toMatchObject({ field: 'streamKey' });
    expect(checkStreamKey('rtmp', 'has space')).toMatchObject({ field: 'streamKey' });
    expect(checkStreamKey('rtmp', 'x'.repeat(513))).toMatchObject({ field: 'streamKey' });
  });
});

describe('server URLs', () => {
  it('accept rtmp:// and rtmps:// with a host', () => {
    expect(checkDestinationUrl('rtmp://127.0.0.1:1935/live')).toBeNull();
    expect(checkDestinationUrl('rtmps://live.example.com:443/app')).toBeNull();
  });

  it('refuse other schemes, user info, queries, non-URLs, naming url', () => {
    for (const url of ['http://example.com/live', 'srt://example.com:9000', 'rtmp://user:pw@example.com/live', 'rtmp://token@example.com/live', 'rtmp://example.com/live?key=1', 'not a url', `rtmp://example.com/${'a'.repeat(500)}`]) {
      expect(checkDestinationUrl(url), url).toMatchObject({ field: 'url' });
    }
    expect(checkDestinationUrl('rtmp://user:pw@example.com/live')!.message).toMatch(/user name or password/);
  });
});

describe('renditions', () => {
  it("are source and the default rungs up to maxResolution, or the profiles' names as the origin names them", () => {
    expect(allowedRenditions(ladder)).toEqual(['source', '1080p', '720p', '480p', '360p']);
    expect(allowedRenditions({ profiles: null, maxResolution: '720p' })).toEqual(['source', '720p', '480p', '360p']);
    expect(allowedRenditions({ profiles: null, maxResolution: '1440p' })).toEqual(['source', '1440p', '1080p', '720p', '480p', '360p']);
    const profile = (name: string, height: number) => ({ name, width: (height * 16) / 9, height, bitrate: 1e6, fps: 30, fpsDen: 1, gop: 2, profile: 'H264High' as const, encoder: 'H.264' as const });
    expect(allowedRenditions({ profiles: [profile('HD', 720), profile('Source', 360)], maxResolution: '1080p' })).toEqual(['source', 'hd', 'source-2']);
  });
});

describe('resolving a destination', () => {
  it('fills the preset URL, a default name and the source rendition', () => {
    expect(resolveDestination(null, { platform: 'youtube', streamKey: YOUTUBE_KEY, rendition: 'source', enabled: true }, ladder, production)).toEqual({
      ok: true,
      fields: { name: 'YouTube', platform: 'youtube', url: 'rtmp://a.rtmp.youtube.com/live2', streamKey: YOUTUBE_KEY, rendition: 'source', enabled: true },
    });
    const rtmp = resolveDestination(null, { platform: 'rtmp', url: 'rtmp://127.0.0.1:1936/live/', streamKey: 'k', rendition: '720p', enabled: true }, ladder, development);
    expect(rtmp).toMatchObject({ ok: true, fields: { name: '127.0.0.1', url: 'rtmp://127.0.0.1:1936/live', rendition: '720p' } });
  });

  it('names every field at fault at once', () => {
    const result = resolveDestination(null, { platform: 'rtmp', url: 'http://x', streamKey: 'a b', rendition: '4k', enabled: true }, ladder, production);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors.map((e) => e.field)).toEqual(['url', 'streamKey', 'rendition']);
    expect(result.errors[2]!.message).toContain('source, 1080p, 720p, 480p, 360p');
  });

  it('a platform change takes the new preset URL and checks the stored key against it', () => {
    const current = { name: 'Mine', platform: 'rtmp' as const, url: 'rtmp://127.0.0.1/live', streamKey: TWITCH_KEY, rendition: 'source', enabled: true };
    expect(resolveDestination(current, { platform: 'twitch' }, ladder, production)).toMatchObject({ ok: true, fields: { url: 'rtmp://live.twitch.tv/app', name: 'Mine' } });
    const refused = resolveDestination(current, { platform: 'youtube' }, ladder, production);
    expect(refused).toMatchObject({ ok: false, errors: [{ field: 'streamKey' }] });
    expect(resolveDestination(current, { platform: 'youtube', streamKey: YOUTUBE_KEY }, ladder, production).ok).toBe(true);
  });
});

describe("a destination's host", () => {
  const resolve = (url: string, rules = production) => resolveDestination(null, { platform: 'rtmp', url, streamKey: 'k', rendition: 'source', enabled: true }, ladder, rules);
  const refusal = (url: string, rules = production) => {
    const result = resolve(url, rules);
    return result.ok ? null : result.errors;
  };

  it('is refused when it is a literal private, link-local, metadata, unspecified or reserved address, in every spelling', () => {
    for (const url of [
      'rtmp://10.1.2.3/live',
      'rtmp://172.16.0.9:1935/live',
      'rtmps://192.168.1.20:443/app',
      'rtmp://100.100.100.200/live', // Alibaba metadata (CGNAT space)
      'rtmp://169.254.169.254/latest',
      'rtmp://[fd00:ec2::254]/live',
      'rtmp://[fe80::1]/live',
      'rtmp://[::ffff:10.0.0.1]/live',
      'rtmp://0.0.0.0/live',
      'rtmp://[::]/live',
      'rtmp://224.0.0.1/live',
      'rtmp://0xa9fea9fe/live', // 169.254.169.254 in hex: rtmp:// hosts are not canonicalized by the URL parser
      'rtmp://2852039166/live', // the same in decimal
      'rtmp://012.0.0.1/live', // octal 10.0.0.1
      'rtmp://10.1/live', // short form of 10.0.0.1
    ]) {
      expect(refusal(url, production), url).toEqual([{ field: 'url', message: expect.stringMatching(/private, loopback, link-local or reserved address cannot be a simulcast destination/) }]);
      expect(refusal(url, development), `${url} (development)`).not.toBeNull();
    }
  });

  it('is refused when it is a metadata or local name', () => {
    expect(refusal('rtmp://metadata.google.internal/live')).toEqual([{ field: 'url', message: expect.stringMatching(/cloud metadata host/) }]);
    expect(refusal('rtmp://METADATA.Google.Internal/live')).toEqual([{ field: 'url', message: expect.stringMatching(/cloud metadata host/) }]);
    expect(refusal('rtmp://relay.internal/live')).toEqual([{ field: 'url', message: expect.stringMatching(/not a public host name/) }]);
    expect(refusal('rtmp://nginx/live')).toEqual([{ field: 'url', message: expect.stringMatching(/not a public host name/) }]);
  });

  it('is loopback only in local development', () => {
    for (const url of ['rtmp://127.0.0.1:1935/live', 'rtmp://localhost/live', 'rtmp://[::1]:1935/live', 'rtmp://127.1/live', 'rtmp://2130706433/live', 'rtmp://LOCALHOST/live']) {
      expect(refusal(url, production), url).toEqual([{ field: 'url', message: 'a local address cannot be a simulcast destination' }]);
      expect(refusal(url, development), url).toBeNull();
    }
  });

  it('is accepted when public, and presets always are', () => {
    for (const url of ['rtmp://a.rtmp.youtube.com/live2', 'rtmps://live-api-s.facebook.com:443/rtmp', 'rtmp://203.0.114.7/live', 'rtmp://[2a00:1450:4001:81b::200e]/live']) {
      expect(refusal(url), url).toBeNull();
    }
    expect(resolveDestination(null, { platform: 'twitch', streamKey: TWITCH_KEY, rendition: 'source', enabled: true }, ladder, production).ok).toBe(true);
  });

  it('is judged only when the request names the URL: a stored one stays through a PATCH of another field', () => {
    const current = { name: 'Lab', platform: 'rtmp' as const, url: 'rtmp://127.0.0.1:1936/live', streamKey: 'k', rendition: 'source', enabled: true };
    expect(resolveDestination(current, { name: 'Lab 2' }, ladder, production)).toMatchObject({ ok: true, fields: { url: current.url, name: 'Lab 2' } });
    expect(resolveDestination(current, { url: 'rtmp://127.0.0.1:1937/live' }, ladder, production)).toMatchObject({ ok: false, errors: [{ field: 'url' }] });
  });
});

describe("a relay's error", () => {
  it('has the key cut out: the known key, or else whatever follows the server URL', () => {
    expect(redactKey('rtmp://h/app/k3y: Input/output error', 'k3y')).toBe('rtmp://h/app/[stream key]: Input/output error');
    expect(redactPublishPath('rtmp://h/app/k:3y: Input/output error', 'rtmp://h/app')).toBe('rtmp://h/app/[stream key]: Input/output error');
    expect(redactPublishPath('failed rtmp://h/app/k3y', 'rtmp://h/app')).toBe('failed rtmp://h/app/[stream key]');
    expect(redactPublishPath('Connection refused', 'rtmp://h/app')).toBe('Connection refused');
    expect(redactPublishPath(null, 'rtmp://h/app')).toBeNull();
  });
});

describe('status', () => {
  it('is disabled, idle without a broadcast, connecting until the holder reports in this broadcast', () => {
    expect(destinationStatus({ enabled: 0, session_id: 's1', status: 'live' }, 's1')).toBe('disabled');
    expect(destinationStatus({ enabled: 1, session_id: 's1', status: 'live' }, null)).toBe('idle');
    expect(destinationStatus({ enabled: 1, session_id: 's0', status: 'live' }, 's1')).toBe('connecting');
    expect(destinationStatus({ enabled: 1, session_id: 's1', status: 'stopped' }, 's1')).toBe('connecting');
    expect(destinationStatus({ enabled: 1, session_id: 's1', status: 'retrying' }, 's1')).toBe('retrying');
  });

  it('changes make connected, disconnected and failed webhooks, once each', () => {
    expect(statusWebhook(null, 'connecting', null)).toBeNull();
    expect(statusWebhook('connecting', 'live', null)).toEqual({ event: 'DESTINATION_CONNECTED', reason: null });
    expect(statusWebhook('live', 'live', null)).toBeNull();
    expect(statusWebhook('live', 'retrying', 'Connection reset')).toEqual({ event: 'DESTINATION_DISCONNECTED', reason: 'Connection reset' });
    expect(statusWebhook('live', 'stopped', null)).toEqual({ event: 'DESTINATION_DISCONNECTED', reason: 'stopped' });
    expect(statusWebhook('retrying', 'retrying', 'x')).toBeNull();
    expect(statusWebhook('connecting', 'stopped', null)).toBeNull();
    expect(statusWebhook('retrying', 'failed', 'NetStream.Publish.BadName')).toEqual({ event: 'DESTINATION_FAILED', reason: 'NetStream.Publish.BadName' });
    expect(statusWebhook('failed', 'failed', 'again')).toBeNull();
  });
});
