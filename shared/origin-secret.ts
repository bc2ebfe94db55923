// What makes an ORIGIN_SECRET usable: both the origin (at startup) and the edge (on every /internal call) refuse to
// sign or verify with a secret that is unset or guessable, so a misconfiguration is loud, never an open door.

/** The shortest secret accepted; `openssl rand -hex 32` (what `npm start` generates) gives 64. */
export const MIN_ORIGIN_SECRET_LENGTH = 16;
/** A long run of one or two characters is as guessable as a short secret. */
const MIN_DISTINCT_CHARACTERS = 8;
/** Values people paste from examples. */
const PLACEHOLDERS = /^(change.?me|secret|password|origin.?secret|example|default|xxx+|your.?secret.?here)+$/i;

/** Why this secret must not be used, or null when it is fine. Never echoes the secret itself. */
export function originSecretProblem(secret: string | undefined | null): string | null {
  if (secret === undefined || secret === null || secret.trim() === '') return 'ORIGIN_SECRET is not set';
  if (secret.length < MIN_ORIGIN_SECRET_LENGTH) {
    return `ORIGIN_SECRET is too short: use at least ${MIN_ORIGIN_SECRET_LENGTH} characters (e.g. openssl rand -hex 32)`;
  }
  if (PLACEHOLDERS.test(secret.replace(/[\s_-]/g, ''))) return 'ORIGIN_SECRET is a placeholder value: generate one (e.g. openssl rand -hex 32)';
  if (new Set(secret).size < MIN_DISTINCT_CHARACTERS) {
    return 'ORIGIN_SECRET has too few distinct characters: generate one (e.g. openssl rand -hex 32)';
  }
  return null;
}
