// Destinations' stream keys at rest (issue 14): sealed with AES-256-GCM under a key derived from the edge's master
// (ORIGIN_SECRET) by HKDF-SHA256 with its own purpose label, so a copy of a StreamObject's storage reveals no
// customer's YouTube or Twitch key. A fresh random IV per write; the destination's id is the additional data, so a
// sealed key copied onto another destination does not open. WebCrypto only.
//
// Stored form: SEALED_PREFIX + base64url(iv ‖ ciphertext ‖ tag). The prefix has a space, which no stream key can hold
// (shared/destination-platforms.ts), so a row written before keys were sealed is told apart and read as it is.

export const SEALED_PREFIX = 'sealed-v1 ';
const PURPOSE = 'riverhead destination key v1';
const IV_BYTES = 12;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The AES-GCM key of destination keys, derived from the master: never stored, the same on every edge. */
export async function destinationKeyCipher(master: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', encoder.encode(master), 'HKDF', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: new Uint8Array(0), info: encoder.encode(PURPOSE) },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

export const isSealed = (stored: string): boolean => stored.startsWith(SEALED_PREFIX);

function toBase64Url(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The stored form of `streamKey` for `destinationId`. */
export async function sealStreamKey(cipher: CryptoKey, destinationId: string, streamKey: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: encoder.encode(destinationId) }, cipher, encoder.encode(streamKey)),
  );
  const out = new Uint8Array(IV_BYTES + sealed.length);
  out.set(iv);
  out.set(sealed, IV_BYTES);
  return SEALED_PREFIX + toBase64Url(out);
}

/**
 * The stream key a stored value holds: a sealed one opened (null when it does not open — another master, another
 * destination's, damaged), a row from before sealing as it is.
 */
export async function openStreamKey(cipher: CryptoKey, destinationId: string, stored: string): Promise<string | null> {
  if (!isSealed(stored)) return stored;
  try {
    const bytes = fromBase64Url(stored.slice(SEALED_PREFIX.length));
    if (bytes.length <= IV_BYTES) return null;
    const plain = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.subarray(0, IV_BYTES), additionalData: encoder.encode(destinationId) },
      cipher,
      bytes.subarray(IV_BYTES),
    );
    return decoder.decode(plain);
  } catch {
    return null;
  }
}
