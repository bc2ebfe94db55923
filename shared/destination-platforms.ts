// Simulcast destination platforms (issue 14): the server URL each preset fills in, the shape its stream keys take, and
// the checks every destination's URL and key pass, whatever the platform. Pure: the API, the StreamObject and the
// tests all use the same rules, and a refusal names the field at fault.

export const DESTINATION_PLATFORMS = ['youtube', 'twitch', 'facebook', 'rtmp'] as const;
export type DestinationPlatform = (typeof DESTINATION_PLATFORMS)[number];

export interface PlatformPreset {
  /** What a destination of this platform is called when it is given no name. */
  label: string;
  /** The ingest server a destination of this platform publishes to, unless it names another; null: url is required. */
  url: string | null;
  /** The shape of this platform's stream keys (a typo caught at create time, not as a `failed` target mid-broadcast). */
  keyShape: RegExp;
  /** Said when a key does not have that shape. */
  keyHint: string;
}

/** Any key: printable ASCII without spaces (it becomes the last path segment of the publish URL). */
const ANY_KEY = /^[\x21-\x7e]{1,512}$/;

export const PLATFORM_PRESETS: Record<DestinationPlatform, PlatformPreset> = {
  youtube: {
    label: 'YouTube',
    url: 'rtmp://a.rtmp.youtube.com/live2',
    // YouTube Studio shows keys as four-character groups joined by dashes: abcd-efgh-ijkl-mnop-qrst.
    keyShape: /^[A-Za-z0-9]{4}(?:-[A-Za-z0-9]{4}){3,5}$/,
    keyHint: 'a YouTube stream key looks like abcd-efgh-ijkl-mnop-qrst (groups of 4 letters or digits joined by -)',
  },
  twitch: {
    label: 'Twitch',
    url: 'rtmp://live.twitch.tv/app',
    keyShape: /^live_\d{1,20}_[A-Za-z0-9]{20,40}$/,
    keyHint: 'a Twitch stream key looks like live_123456789_AbCdEfGhIjKlMnOpQrStUvWxYz0123',
  },
  facebook: {
    label: 'Facebook',
    url: 'rtmps://live-api-s.facebook.com:443/rtmp',
    // Persistent keys (FB-<id>-0-<token>) and per-broadcast keys (<id>?s_bl=1&…&a=<token>).
    keyShape: /^(?:FB-\d{5,25}-\d{1,5}-[A-Za-z0-9_-]{8,200}|\d{5,25}\?[A-Za-z0-9_=&.%-]{4,400})$/,
    keyHint: 'a Facebook stream key looks like FB-1234567890123456-0-AbCdEf… or 1234567890123456?s_bl=1&…',
  },
  rtmp: {
    label: 'RTMP',
    url: null,
    keyShape: ANY_KEY,
    keyHint: 'a stream key is 1 to 512 printable characters without spaces',
  },
};

export const MAX_DESTINATION_URL_CHARS = 500;

/** Why a destination's URL or key is refused, naming the request field; null when it is fine. */
export interface DestinationFieldProblem {
  field: 'url' | 'streamKey' | 'platform';
  message: string;
}

/**
 * Checks a destination's server URL: rtmp:// or rtmps://, a host, no user name or password (credentials belong in the
 * write-only streamKey, never in a URL that is shown), no query or fragment (the key is appended as a path segment).
 */
export function checkDestinationUrl(url: string): DestinationFieldProblem | null {
  if (url.length > MAX_DESTINATION_URL_CHARS) return { field: 'url', message: `at most ${MAX_DESTINATION_URL_CHARS} characters` };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { field: 'url', message: 'not a URL; expected rtmp://host[:port]/app or rtmps://host[:port]/app' };
  }
  if (parsed.protocol !== 'rtmp:' && parsed.protocol !== 'rtmps:') {
    return { field: 'url', message: `the scheme must be rtmp:// or rtmps://, not ${parsed.protocol}//` };
  }
  if (!parsed.hostname) return { field: 'url', message: 'the URL has no host' };
  if (parsed.username || parsed.password) {
    return { field: 'url', message: 'a user name or password in the URL is refused: put the credentials in streamKey' };
  }
  if (parsed.search || parsed.hash) return { field: 'url', message: 'no query or fragment: the stream key is appended to the path' };
  return null;
}

/** Checks a stream key against its platform's shape. The message never repeats the key. */
export function checkStreamKey(platform: DestinationPlatform, streamKey: string): DestinationFieldProblem | null {
  const preset = PLATFORM_PRESETS[platform];
  if (!ANY_KEY.test(streamKey) || !preset.keyShape.test(streamKey)) {
    return { field: 'streamKey', message: `does not look like a ${preset.label} stream key: ${preset.keyHint}` };
  }
  return null;
}

/** The server URL a destination publishes to: the one it names, else its platform's; a problem when neither exists. */
export function serverUrlFor(platform: DestinationPlatform, url: string | undefined): { url: string } | DestinationFieldProblem {
  const chosen = url ?? PLATFORM_PRESETS[platform].url;
  if (chosen === null) return { field: 'url', message: `required for platform ${platform} (rtmp://host[:port]/app or rtmps://…)` };
  return checkDestinationUrl(chosen) ?? { url: chosen.replace(/\/+$/, '') };
}

/** The full publish URL handed to the origin: the server URL with the key as its last path segment. */
export function publishUrl(serverUrl: string, streamKey: string): string {
  return `${serverUrl.replace(/\/+$/, '')}/${streamKey}`;
}
