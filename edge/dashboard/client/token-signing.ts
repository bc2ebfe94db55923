// Signing a playback token in the browser: the compact JWS `{alg: RS256, kid}.{sub: playbackId, exp}` the edge's
// edge/playback-token.ts verifies, with WebCrypto only (no imports), so it runs and is tested anywhere.

/** Ten minutes: enough to watch a preview; the page signs a fresh one for each new player. */
export const PREVIEW_TOKEN_SECONDS = 600;

const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const jsonPart = (value: object): string => base64url(new TextEncoder().encode(JSON.stringify(value)));

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const text = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** The token, `PREVIEW_TOKEN_SECONDS` long; pure apart from WebCrypto. */
export async function signPlaybackToken(key: { signingKeyId: string; privateKeyPem: string }, playbackId: string, nowMs = Date.now()): Promise<string> {
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    pemBody(key.privateKeyPem),
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    false,
    ['sign'],
  );
  const signingInput = `${jsonPart({ alg: 'RS256', typ: 'JWT', kid: key.signingKeyId })}.${jsonPart({
    sub: playbackId,
    exp: Math.floor(nowMs / 1000) + PREVIEW_TOKEN_SECONDS,
  })}`;
  const signature = await crypto.subtle.sign('RSASSA-PKCS1-v1_5', privateKey, new TextEncoder().encode(signingInput));
  return `${signingInput}.${base64url(new Uint8Array(signature))}`;
}
