// Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>` keyed by the
// base64-decoded `whsec_` secret, one v1 entry per live secret. WebCrypto only, so it runs in workerd.

export const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

export function newWebhookSecret(): string {
  return SECRET_PREFIX + toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

/** What gets signed: the message id, the attempt's Unix time in seconds and the exact body, joined by dots. */
export function signedContent(messageId: string, timestampSeconds: number, body: string): string {
  return `${messageId}.${timestampSeconds}.${body}`;
}

export async function signatureOf(secret: string, content: string): Promise<string> {
  const raw = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  const key = await crypto.subtle.importKey('raw', fromBase64(raw), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(content));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The three headers of one attempt; several secrets (during a rotation) give space-separated signatures. */
export async function webhookHeaders(
  secrets: readonly string[],
  messageId: string,
  timestampSeconds: number,
  body: string,
): Promise<Record<string, string>> {
  const content = signedContent(messageId, timestampSeconds, body);
  const signatures = await Promise.all(secrets.map((secret) => signatureOf(secret, content)));
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signatures.join(' '),
  };
}
