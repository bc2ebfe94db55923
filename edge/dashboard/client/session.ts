// Where the dashboard keeps what the person typed to sign in: this tab's sessionStorage only (gone when the tab
// closes), never a cookie, a URL or a log. The signing key the previews sign playback tokens with lives beside it.

const CREDENTIALS = 'riverhead.dashboard.credentials';
const PREVIEW_KEY = 'riverhead.dashboard.previewSigningKey';

export interface Credentials {
  id: string;
  secret: string;
}

/** A signing key this tab created for its own private previews (its private half is shown only once, at create). */
export interface PreviewSigningKey {
  signingKeyId: string;
  /** PKCS#8 PEM */
  privateKeyPem: string;
}

function read<T>(name: string, valid: (value: any) => boolean): T | null {
  try {
    const value = JSON.parse(sessionStorage.getItem(name) ?? 'null');
    return value && valid(value) ? (value as T) : null;
  } catch {
    return null;
  }
}

export const savedCredentials = (): Credentials | null =>
  read<Credentials>(CREDENTIALS, (v) => typeof v.id === 'string' && typeof v.secret === 'string');
export const saveCredentials = (credentials: Credentials): void =>
  sessionStorage.setItem(CREDENTIALS, JSON.stringify({ id: credentials.id, secret: credentials.secret }));

export const savedPreviewKey = (): PreviewSigningKey | null =>
  read<PreviewSigningKey>(PREVIEW_KEY, (v) => typeof v.signingKeyId === 'string' && typeof v.privateKeyPem === 'string');
export const savePreviewKey = (key: PreviewSigningKey): void => sessionStorage.setItem(PREVIEW_KEY, JSON.stringify(key));

export function forgetSession(): void {
  sessionStorage.removeItem(CREDENTIALS);
  sessionStorage.removeItem(PREVIEW_KEY);
}
