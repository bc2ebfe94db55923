// The origin's settings: an unset or weak ORIGIN_SECRET is a clear startup error, never an origin that signs with it.
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { configFromEnv } from '../../origin/config.ts';
import { MIN_ORIGIN_SECRET_LENGTH } from '../../shared/origin-secret.ts';

const root = path.resolve(import.meta.dirname, '../..');
const base = { EDGE_URL: 'http://127.0.0.1:8787', ORIGIN_ID: 'origin-a' };

describe('configFromEnv', () => {
  it('accepts a strong secret', () => {
    const secret = 'e2e-origin-secret-0123456789abcdef';
    expect(configFromEnv({ ...base, ORIGIN_SECRET: secret }).originSecret).toBe(secret);
  });

  it.each([
    ['unset', undefined, /ORIGIN_SECRET is not set/],
    ['empty', '', /ORIGIN_SECRET is not set/],
    ['whitespace', '   \t ', /ORIGIN_SECRET is not set/],
    ['short', 'hunter2', new RegExp(`at least ${MIN_ORIGIN_SECRET_LENGTH} characters`)],
    ['one character repeated', 'a'.repeat(40), /too few distinct characters/],
    ['a placeholder', 'changemechangeme', /placeholder/],
  ])('refuses %s', (_name, secret, message) => {
    const env: Record<string, string | undefined> = { ...base, ORIGIN_SECRET: secret };
    expect(() => configFromEnv(env)).toThrow(message);
  });

  it('needs an ORIGIN_ID shaped like the ids /admin/origins issues', () => {
    const secret = 'e2e-origin-secret-0123456789abcdef';
    expect(() => configFromEnv({ EDGE_URL: base.EDGE_URL, ORIGIN_SECRET: secret })).toThrow(/ORIGIN_ID is required/);
    expect(() => configFromEnv({ ...base, ORIGIN_ID: 'Not An Id', ORIGIN_SECRET: secret })).toThrow(/ORIGIN_ID must match/);
    const config = configFromEnv({ ...base, ORIGIN_SECRET: secret, ORIGIN_REGION: 'eu-central', INGEST_HOST: 'ingest.example.com' });
    expect(config).toMatchObject({ originId: 'origin-a', region: 'eu-central', ingestHost: 'ingest.example.com' });
    expect(configFromEnv({ ...base, ORIGIN_SECRET: secret })).toMatchObject({ region: 'local', ingestHost: '127.0.0.1' });
  });
});

describe('origin process', () => {
  it('exits at once with a clear error when ORIGIN_SECRET is unset, before opening any port', async () => {
    const env: Record<string, string | undefined> = { ...process.env, EDGE_URL: 'http://127.0.0.1:9', ORIGIN_ID: 'origin-a', RTMP_PORT: '0', HTTP_PORT: '0', SRT_PORT: '0' };
    delete env.ORIGIN_SECRET;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'origin/main.ts')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(deadline);
    expect(code).toBe(1);
    expect(output).toContain('ORIGIN_SECRET is not set');
    expect(output).not.toContain('origin_ready');
  });
});
