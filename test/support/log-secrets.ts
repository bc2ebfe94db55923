// Secrets a test created, and the scan that proves none of them reached a log line of the edge or the origin
// (defect 12). The stack registers every secret it sees in an API answer; every log line is scanned for any
// 16-character window of any of them, so a clipped or partial key is caught as well as a whole one.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export type SecretKind = 'stream-key' | 'srt-passphrase' | 'access-token-secret' | 'webhook-secret' | 'private-key' | 'playback-jwt' | 'operator-secret';

export interface Secret {
  kind: SecretKind;
  value: string;
}

export interface LogLine {
  /** 'edge', 'origin' or whatever process wrote it */
  source: string;
  text: string;
}

export interface SecretFinding {
  kind: SecretKind;
  source: string;
  /** the line with every secret window masked, so a report never repeats the secret */
  line: string;
}

/** Shorter windows would match by chance; longer ones would miss a key clipped to a few dozen characters. */
export const WINDOW = 16;

/** The parts of a secret that must never appear: all of it, or for a JWT its signature, for a PEM its body lines. */
function secretTexts(secret: Secret): string[] {
  if (secret.kind === 'playback-jwt') return [secret.value.split('.')[2] ?? secret.value];
  if (secret.kind === 'private-key') {
    return secret.value
      .split(/\r?\n/)
      .filter((line) => line.length >= WINDOW && !line.startsWith('-----'));
  }
  return [secret.value];
}

/** Every WINDOW-long slice of every secret (or the whole secret when shorter), with its kind. */
export function secretWindows(secrets: Iterable<Secret>): Map<string, SecretKind> {
  const windows = new Map<string, SecretKind>();
  for (const secret of secrets) {
    for (const text of secretTexts(secret)) {
      const forms = new Set([text, encodeURIComponent(text)]);
      for (const form of forms) {
        if (form.length <= WINDOW) {
          if (form.length >= 8) windows.set(form, secret.kind);
          continue;
        }
        for (let i = 0; i + WINDOW <= form.length; i++) windows.set(form.slice(i, i + WINDOW), secret.kind);
      }
    }
  }
  return windows;
}

/** Pure: the lines that carry any window of any secret. */
export function scanForSecrets(lines: Iterable<LogLine>, secrets: Iterable<Secret>): SecretFinding[] {
  const windows = secretWindows(secrets);
  const short = [...windows.keys()].filter((w) => w.length < WINDOW);
  const findings: SecretFinding[] = [];
  for (const { source, text } of lines) {
    let kind: SecretKind | undefined;
    for (let i = 0; i + WINDOW <= text.length && !kind; i++) kind = windows.get(text.slice(i, i + WINDOW));
    for (const w of short) if (!kind && text.includes(w)) kind = windows.get(w);
    if (kind) findings.push({ kind, source, line: masked(text, windows) });
  }
  return findings;
}

function masked(text: string, windows: Map<string, SecretKind>): string {
  const hidden = new Array<boolean>(text.length).fill(false);
  for (let i = 0; i + WINDOW <= text.length; i++) {
    if (windows.has(text.slice(i, i + WINDOW))) hidden.fill(true, i, i + WINDOW);
  }
  const out = [...text].map((c, i) => (hidden[i] ? '*' : c)).join('');
  return out.length > 400 ? `${out.slice(0, 400)}…` : out;
}

/** The secrets an API answer carries (streamKey, srtSecret, access token and webhook secrets, private keys, tokens). */
export function secretsInAnswer(body: unknown): Secret[] {
  const found: Secret[] = [];
  const visit = (value: unknown, key: string | null, depth: number) => {
    if (depth > 8 || value === null || value === undefined) return;
    if (typeof value === 'string') {
      if (value.length < 8) return;
      if (key === 'streamKey') found.push({ kind: 'stream-key', value });
      else if (key === 'srtSecret' || key === 'passphrase') found.push({ kind: 'srt-passphrase', value });
      else if (key === 'privateKey') {
        found.push({ kind: 'private-key', value });
        // handed out as base64 of the PEM: the PEM's own lines are the same secret
        const pem = Buffer.from(value, 'base64').toString('utf8');
        if (pem.startsWith('-----BEGIN')) found.push({ kind: 'private-key', value: pem });
      }
      else if (value.startsWith('whsec_')) found.push({ kind: 'webhook-secret', value });
      else if (key === 'secret') found.push({ kind: 'access-token-secret', value });
      else if (key === 'token' && value.split('.').length === 3) found.push({ kind: 'playback-jwt', value });
      return;
    }
    if (Array.isArray(value)) for (const item of value) visit(item, key, depth + 1);
    else if (typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, k, depth + 1);
  };
  visit(body, null, 0);
  return found;
}

/** Where every stack of one e2e run leaves its secrets and log lines, for the run-wide scan (globalSetup). */
export const RUN_DIR_ENV = 'RIVERHEAD_LOG_SCAN_DIR';

let written = 0;

/** Appends one stack's secrets and lines to the run's folder, when a run-wide scan is on. */
export async function recordForRunScan(secrets: Secret[], lines: LogLine[]): Promise<void> {
  const dir = process.env[RUN_DIR_ENV];
  if (!dir) return;
  written += 1;
  await writeFile(path.join(dir, `${process.pid}-${written}-${Date.now()}.json`), JSON.stringify({ secrets, lines }));
}

/** Every secret of the run against every line of the run: a secret from one stack logged by another is caught too. */
export async function scanRunDir(dir: string): Promise<{ stacks: number; lines: number; secrets: number; findings: SecretFinding[] }> {
  const secrets: Secret[] = [];
  const lines: LogLine[] = [];
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
  for (const file of files) {
    const record = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { secrets: Secret[]; lines: LogLine[] };
    secrets.push(...record.secrets);
    lines.push(...record.lines);
  }
  return { stacks: files.length, lines: lines.length, secrets: secrets.length, findings: scanForSecrets(lines, secrets) };
}

export function describeFindings(findings: SecretFinding[], max = 10): string {
  return findings
    .slice(0, max)
    .map((f) => `  ${f.kind} in a ${f.source} log line: ${f.line}`)
    .join('\n') + (findings.length > max ? `\n  … and ${findings.length - max} more` : '');
}
