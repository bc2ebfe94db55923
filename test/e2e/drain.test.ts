// SIGTERM to the origin mid-broadcast with DRAIN_TIMEOUT_SECONDS=3 (origin/drain.ts): a new publish is refused while
// it drains, the broadcast it holds goes on until the deadline, then its encoder is disconnected — not final, so the
// session is DISCONNECTED (its reconnect window runs; the encoder would come back through the load balancer to
// another origin), not STOPPED — and the origin exits 0 with its outbox empty. A second SIGTERM hurries a long drain.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { startStack, waitFor, type Stack } from '../support/stack.ts';
import { publish, type Publisher } from '../support/encoder.ts';

const DRAIN_SECONDS = 3;

let stack: Stack;
const encoders: Publisher[] = [];
const originEnv: Record<string, string> = { DRAIN_TIMEOUT_SECONDS: String(DRAIN_SECONDS) };
beforeAll(async () => {
  stack = await startStack({ originEnv });
});
afterAll(async () => {
  await Promise.all(encoders.map((e) => e.kill()));
  await stack?.stop();
});

const rtmpUrl = (key: string) => `rtmp://127.0.0.1:${stack.ports.rtmp}/live/${key}`;
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, new Promise<'still running'>((r) => setTimeout(() => r('still running'), ms))]);

describe('draining on SIGTERM', () => {
  it('refuses new publishers, keeps the broadcast until the deadline, disconnects it not final, exits 0 with an empty outbox', async () => {
    // A retry of this test (CI) finds the origin the first attempt drained gone: start another.
    if (stack.originPid() === null) await stack.startOrigin();
    const stream = await stack.createStream({ reconnectWindow: 60 });
    const encoder = publish(rtmpUrl(stream.streamKey), { size: '640x360' });
    encoders.push(encoder);
    const live = await stack.waitForStatus(stream.streamId, 'STREAMING', 30_000);
    const playlist = path.join(stack.mediaDir, stream.streamId, live.currentSession.id, 'source', 'index.m3u8');
    await waitFor('two segments', async () => ((await readFile(playlist, 'utf8').catch(() => '')).match(/#EXTINF/g)?.length ?? 0) >= 2 || undefined, 30_000);

    await waitFor('the origin to be ready', async () => stack.originLogs.some((l) => l.includes('"origin_ready"')) || undefined, 15_000);
    const pid = stack.originPid();
    expect(pid).not.toBeNull();
    const exitsBefore = stack.originExits.length;
    const termAt = Date.now();
    process.kill(pid!, 'SIGTERM'); // the origin process alone, as a container runtime or systemd (KillMode=mixed) does

    const health = await waitFor('the origin to say it is draining', async () => {
      const body = (await (await fetch(`${stack.originAdminUrl}/healthz`)).json()) as { draining?: boolean };
      return body.draining ? body : undefined;
    }, 2000);
    expect(health).toMatchObject({ draining: true, load: { sessions: 1 } });

    // While it drains, a new publisher is refused at its publish and its stream never goes live.
    const other = await stack.createStream();
    const refused = publish(rtmpUrl(other.streamKey), { seconds: 30 });
    encoders.push(refused);
    const refusedCode = await within(refused.exited, 10_000);
    expect(refusedCode).not.toBe('still running');
    expect(refusedCode).not.toBe(0);
    await waitFor('the RTMP refusal in the log', async () => stack.originLogs.some((l) => l.includes('rtmp.publish_rejected') && l.includes('origin_draining')) || undefined, 5000);

    // The broadcast held is kept until the deadline, then its encoder is disconnected.
    expect(await within(encoder.exited, 15_000)).not.toBe('still running');
    const kickedAfter = (Date.now() - termAt) / 1000;
    expect(kickedAfter).toBeGreaterThanOrEqual(DRAIN_SECONDS - 0.5);
    expect(kickedAfter).toBeLessThanOrEqual(DRAIN_SECONDS + 6);

    const exit = await waitFor('the origin to exit', async () => stack.originExits[exitsBefore], 30_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect((await stack.getStream(other.streamId)).status).toBe('NOT_STARTED');
    // Not final: the session waits out its reconnect window for the encoder to come back (elsewhere).
    const after = await stack.getStream(stream.streamId);
    expect(after.status).toBe('DISCONNECTED');
    expect(after.currentSession?.id).toBe(live.currentSession.id);

    const outboxDir = path.join(stack.dir, 'origin-state', 'outbox');
    const pending = (await readdir(outboxDir)).filter((name) => /^\d+\.json$/.test(name));
    // On failure, say which events were left and what the origin said while it drained and stopped.
    const left = await Promise.all(pending.map(async (name) => `${name}: ${(await readFile(path.join(outboxDir, name), 'utf8')).slice(0, 400)}`));
    const shutdownLines = stack.originLogs.filter((l) => /drain|stopping|outbox|events_|edge_/.test(l)).slice(-30);
    expect(pending, `left in the outbox:\n${left.join('\n')}\norigin lines:\n${shutdownLines.join('\n')}`).toEqual([]);
    const drained = stack.originLogs.map((l) => { try { return JSON.parse(l); } catch { return null; } }).find((l) => l?.event === 'origin_drained');
    expect(drained).toMatchObject({ disconnected: 1, hurried: false, outboxDrained: true });
  });

  it('a second SIGTERM during a long drain disconnects at once and exits 0 after a short flush', async () => {
    await stack.stopOrigin(); // in case the test above did not end its origin
    originEnv.DRAIN_TIMEOUT_SECONDS = '600';
    const readyBefore = stack.originLogs.filter((l) => l.includes('"origin_ready"')).length;
    await stack.startOrigin();
    const stream = await stack.createStream({ reconnectWindow: 60 });
    const encoder = publish(rtmpUrl(stream.streamKey), { size: '640x360' });
    encoders.push(encoder);
    await stack.waitForStatus(stream.streamId, 'STREAMING', 30_000);
    await waitFor('the origin to be ready', async () => stack.originLogs.filter((l) => l.includes('"origin_ready"')).length > readyBefore || undefined, 15_000);

    const exitsBefore = stack.originExits.length;
    const pid = stack.originPid()!;
    process.kill(pid, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 1500));
    expect(await within(encoder.exited, 0)).toBe('still running'); // still held: the deadline is 10 minutes away
    const hurryAt = Date.now();
    process.kill(pid, 'SIGTERM');
    expect(await within(encoder.exited, 8000)).not.toBe('still running');
    const exit = await waitFor('the origin to exit', async () => stack.originExits[exitsBefore], 20_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect((exit.at - hurryAt) / 1000).toBeLessThan(12);
    expect((await stack.getStream(stream.streamId)).status).toBe('DISCONNECTED');
  });
});
