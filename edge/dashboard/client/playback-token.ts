// Short-lived playback tokens for previewing private playback IDs. The API keeps only the public half of a signing
// key, so the dashboard makes one signing key per browser session (POST /v1/signing-keys, its private half kept in
// sessionStorage beside the credentials, deleted at sign-out) and signs RS256 JWTs with it in the browser (WebCrypto).
import { call, type RiverheadClient } from './api.ts';
import { savePreviewKey, savedPreviewKey, type PreviewSigningKey } from './session.ts';

/** Ten minutes: enough to watch a preview; the page signs a fresh one for each new player. */
export const PREVIEW_TOKEN_SECONDS = 600;

const base64url = (bytes: Uint8Array): string =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const jsonPart = (value: object): string => base64url(new TextEncoder().encode(JSON.stringify(value)));

function pemBody(pem: string): Uint8Array<ArrayBuffer> {
  const text = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Pure apart from WebCrypto: the compact JWS `{alg: RS256, kid}.{sub: playbackId, exp}`. */
export async function signPlaybackToken(key: PreviewSigningKey, playbackId: string, nowMs = Date.now()): Promise<string> {
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

let creating: Promise<PreviewSigningKey> | null = null;

/** This session's preview signing key, created through the API the first time a private preview needs one. */
export async function previewSigningKey(client: RiverheadClient): Promise<PreviewSigningKey> {
  const saved = savedPreviewKey();
  if (saved) return saved;
  creating ??= (async () => {
    const { data } = await call(client.POST('/v1/signing-keys', {}));
    if (!data.privateKey) throw new Error('the signing key came back without its private half');
    const key = { signingKeyId: data.signingKeyId, privateKeyPem: atob(data.privateKey) };
    savePreviewKey(key);
    return key;
  })().finally(() => (creating = null));
  return creating;
}

/** The `?token=` a preview of this playback ID needs: none for a public one. */
export async function previewQuery(client: RiverheadClient, playback: { id: string; accessPolicy: string }): Promise<string> {
  if (playback.accessPolicy !== 'private') return '';
  const token = await signPlaybackToken(await previewSigningKey(client), playback.id);
  return `?token=${encodeURIComponent(token)}`;
}
