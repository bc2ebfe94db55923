// Per-origin credentials derived from the edge's master key (the edge's ORIGIN_SECRET, never handed to an origin):
// each origin's own signing secret, changed by bumping its generation (rotation), and the one key every origin uses to
// derive streams' SRT passphrases. Derived, not stored: D1 holds only ids and generations, so a D1 dump signs nothing.
// WebCrypto only, so the edge (workerd) and Node tools (npm start, tests) derive the same values.

/** The shape of an origin id: what an operator names it, also a DNS label so it fits host names. */
export const ORIGIN_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;

const encoder = new TextEncoder();

async function hmacHex(key: string, message: string): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey('raw', encoder.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, encoder.encode(message)));
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** One origin's secret for one generation: "ors_" + hex(HMAC-SHA256(master, label ‖ id ‖ generation)). */
export async function deriveOriginSecret(master: string, originId: string, generation: number): Promise<string> {
  return `ors_${await hmacHex(master, `riverhead origin secret v1\n${originId}\n${generation}`)}`;
}

/**
 * The key streams' SRT passphrases are derived from (shared/srt-passphrase.ts), the same for every origin: a caller
 * may land on any origin of the cluster, and each must check its passphrase without asking the edge. It is not the
 * master, so an origin holding it can sign nothing as another origin.
 */
export async function deriveSrtPassphraseKey(master: string): Promise<string> {
  return hmacHex(master, 'riverhead srt passphrase key v1');
}

/** Every origin → edge request names its signer here; the edge verifies the signature with that origin's secret. */
export const ORIGIN_ID_HEADER = 'x-riverhead-origin';
