// Defect 12: no stream key, SRT passphrase, access token, whsec_ secret, private key or playback JWT in any log line.
// First the scan itself is proven to catch a secret a process logs (whole, clipped, or URL-encoded); then a stack is
// driven through every path that handles secrets (good and bad RTMP keys, SRT streamids that do not parse, a wrong
// passphrase, webhooks, signing keys, private playback) and stop() scans all of its edge and origin log lines.
// Every other e2e file's stacks are scanned the same way at their stop(), and the whole run by log-scan.global.ts.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, importPKCS8 } from 'jose';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { publish } from '../support/encoder.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { RUN_DIR_ENV, recordForRunScan, scanForSecrets, scanRunDir, secretsInAnswer, type LogLine, type Secret } from '../support/log-secrets.ts';
import { loadSrtBinding } from '../../origin/srt/native.ts';

/** What a child process prints, as log lines. */
function linesOf(script: string, ...args: string[]): Promise<LogLine[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => resolve(out.split('\n').filter(Boolean).map((text) => ({ source: 'child', text }))));
  });
}

describe('the log scan', () => {
  const key = 'sk_live_9fQw2LmZpX4rT7vB1nC8dK3sH6jY0aE5';
  const secrets: Secret[] = [{ kind: 'stream-key', value: key }, ...secretsInAnswer({ data: { secret: 'whsec_bG9uZ3NlY3JldHZhbHVlZm9yYXRlc3Q=' } })];

  it('catches a secret a child process logs: whole, clipped to 20 characters, or URL-encoded; passes clean lines', async () => {
    const lines = await linesOf(
      `const k = process.argv[1];
       console.log(JSON.stringify({ event: 'srt_refused', reason: 'not key=value: "' + k + '"' }));
       console.log(JSON.stringify({ event: 'clipped', detail: k.slice(4, 24) + '…' }));
       console.log('GET /live/' + encodeURIComponent('#!::r=' + k));
       console.log(JSON.stringify({ event: 'hook', secret: process.argv[2] }));
       console.log(JSON.stringify({ event: 'ingest_authorize', streamId: 'ls_hGgIwZCU3wDB6xDu', outcome: 'accepted' }));`,
      key,
      'whsec_bG9uZ3NlY3JldHZhbHVlZm9yYXRlc3Q=',
    );
    expect(lines).toHaveLength(5);
    const findings = scanForSecrets(lines, secrets);
    expect(findings.map((f) => f.kind)).toEqual(['stream-key', 'stream-key', 'stream-key', 'webhook-secret']);
    for (const f of findings) expect(f.line).not.toContain(key.slice(4, 20)); // a report never repeats the secret
  });

  it('the run-wide scan finds a secret one stack saw in another stack\'s lines', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'log-scan-proof-'));
    const saved = process.env[RUN_DIR_ENV];
    try {
      process.env[RUN_DIR_ENV] = dir;
      await recordForRunScan(secrets, []);
      await recordForRunScan([], await linesOf(`console.log('{"event":"x","key":"' + process.argv[1] + '"}')`, key));
      const scan = await scanRunDir(dir);
      expect(scan).toMatchObject({ stacks: 2, lines: 1 });
      expect(scan.findings).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env[RUN_DIR_ENV];
      else process.env[RUN_DIR_ENV] = saved;
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is on for this e2e run (globalSetup)', () => {
    expect(process.env[RUN_DIR_ENV]).toBeTruthy();
  });
});

describe('a stack driven through every path that handles a secret', () => {
  let stack: Stack;
  let receiver: WebhookReceiver;
  let stopped = false;

  beforeAll(async () => {
    stack = await startStack({ edgeVars: { WEBHOOK_ALLOW_HTTP_LOOPBACK: 'true', WEBHOOK_RETRY_BASE_SECONDS: '1' } });
    receiver = await startWebhookReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    if (!stopped) await stack?.stop();
  });

  it('logs none of them, on the edge or the origin', async () => {
    const hook = await stack.api('POST', '/webhooks', { url: receiver.url });
    receiver.secret = hook.body.data.secret;
    const signer = (await stack.api('POST', '/signing-keys')).body.data as { signingKeyId: string; privateKey: string };
    const stream = await stack.createStream({ reconnectWindow: 1, accessPolicy: 'private' });
    const rtmp = (k: string) => `rtmp://127.0.0.1:${stack.ports.rtmp}/live/${k}`;

    // A key with one character wrong (a typo of the real one) is as secret as the key.
    const typo = `${stream.streamKey.slice(0, -1)}${stream.streamKey.endsWith('x') ? 'y' : 'x'}`;
    stack.addSecret('stream-key', typo);
    expect(await publish(rtmp(typo), { size: '320x180', seconds: 5 }).exited).not.toBe(0);

    // SRT: streamids that do not parse but carry the key, and the right key with a wrong passphrase.
    const srt = loadSrtBinding();
    const knock = async (streamId: string, passphrase?: string) => {
      const socket = srt.callerConnect('127.0.0.1', stack.ports.srt, { streamId, ...(passphrase ? { passphrase } : {}) });
      try {
        return await waitFor('a verdict', async () => {
          const { state } = srt.callerState(socket);
          return ['init', 'opened', 'connecting'].includes(state) ? undefined : state;
        }, 8000);
      } finally {
        srt.callerClose(socket);
      }
    };
    const wrongPassphrase = 'wrong-passphrase-0123456789';
    stack.addSecret('srt-passphrase', wrongPassphrase);
    for (const [streamId, passphrase] of [
      [`#!::${stream.streamKey}`, undefined],
      [`#!::m=${stream.streamKey}`, undefined],
      [`#!::r=${stream.streamKey},r=${stream.streamKey}`, undefined],
      [`#!${stream.streamKey}`, undefined],
      [`${stream.streamKey},m=publish`, undefined],
      [`#!::r=${stream.streamKey},m=publish`, wrongPassphrase],
    ] as const) {
      expect(await knock(streamId, passphrase)).not.toBe('connected');
    }

    // A real broadcast, watched privately with a playback JWT.
    const encoder = publish(rtmp(stream.streamKey), { size: '320x180', seconds: 30 });
    await stack.waitForStatus(stream.streamId, 'STREAMING', 30_000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: signer.signingKeyId })
      .setSubject(stream.playbackIds[0].id)
      .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
      .sign(await importPKCS8(Buffer.from(signer.privateKey, 'base64').toString('utf8'), 'RS256'));
    stack.addSecret('playback-jwt', token);
    await waitFor('the private master playlist', async () => {
      const master = await stack.edgeFetch(`${stack.edgeUrl}/hls/${stream.playbackIds[0].id}/master.m3u8?token=${token}`);
      await master.text();
      return master.status === 200 ? true : undefined;
    }, 20_000);
    const denied = await stack.edgeFetch(`${stack.edgeUrl}/hls/${stream.playbackIds[0].id}/master.m3u8?token=${token.slice(0, -4)}AAAA`);
    expect(denied.status).toBe(403);
    await encoder.kill();
    await stack.waitForStatus(stream.streamId, 'STOPPED', 20_000);
    await stack.api('POST', `/live/streams/${stream.streamId}/reset-stream-key`);
    await waitFor('the webhooks', async () => (receiver.received.length >= 4 ? true : undefined), 15_000);

    const kinds = new Set(stack.secrets.map((s) => s.kind));
    for (const kind of ['stream-key', 'srt-passphrase', 'access-token-secret', 'webhook-secret', 'private-key', 'playback-jwt', 'operator-secret']) {
      expect(kinds.has(kind as Secret['kind']), kind).toBe(true);
    }
    const lines = await stack.logLines();
    expect(lines.filter((l) => l.source === 'edge').length).toBeGreaterThan(0);
    expect(lines.filter((l) => l.source === 'origin').length).toBeGreaterThan(0);
    // stop() scans every line of both processes for every secret above and throws on the first finding.
    stopped = true;
    await stack.stop();
  }, 120_000);
});
