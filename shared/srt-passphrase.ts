// A stream's SRT passphrase, derived from its stream key: hex(HMAC-SHA256(secret, label ‖ key))[0..32]. The edge
// hands it out on create and key reset; an origin's SRT access hook computes the same value from the streamid
// (origin/srt/native/srt_binding.c, derive_passphrase) without asking the edge, so a caller's handshake never waits.
// The secret is the SRT passphrase key (shared/origin-credentials.ts deriveSrtPassphraseKey), derived from the edge's
// master key and handed to every origin in heartbeat answers: any origin can already ask the edge for any stream's
// passphrase, so holding it gives an origin nothing new, and it signs nothing. A new key means a new passphrase.

/** Must match PASSPHRASE_LABEL in srt_binding.c byte for byte. */
export const SRT_PASSPHRASE_LABEL = 'riverhead srt passphrase v1\n';
/** 16 bytes of the MAC as hex: 32 characters, inside libsrt's 10–79. */
const PASSPHRASE_BYTES = 16;

export async function srtPassphraseFor(secret: string, streamKey: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(SRT_PASSPHRASE_LABEL + streamKey)));
  return Array.from(mac.subarray(0, PASSPHRASE_BYTES), (b) => b.toString(16).padStart(2, '0')).join('');
}
