// Short-lived playback tokens for previewing private playback IDs. The API keeps only the public half of a signing
// key, so the dashboard makes one signing key per browser session (POST /v1/signing-keys, its private half kept in
// sessionStorage beside the credentials, deleted at sign-out) and signs RS256 JWTs with it in the browser (WebCrypto).
import { call, type RiverheadClient } from './api.ts';
import { savePreviewKey, savedPreviewKey, type PreviewSigningKey } from './session.ts';
import { signPlaybackToken } from './token-signing.ts';

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
