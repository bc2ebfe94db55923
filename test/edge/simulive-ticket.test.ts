// The simulive publisher's admission at the edge: POST /internal/ingest/authorize with protocol 'simulive' admits only
// with the one live, unexpired ticket the stream's object issued, once; a replayed, replaced, expired or made-up ticket
// is refused with `simulive_ticket_invalid`, and a key-less body of another protocol is a 400.
import { describe, it, expect, beforeAll } from 'vitest';
import { runInDurableObject } from 'cloudflare:test';
import { createStream, createWorkspace, json, signedCall, ORIGIN, type Workspace } from './helpers.ts';
import { stub } from './stream-faults.ts';

let ws: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('simulive-ticket');
});

const authorizeSimulive = (streamId: string, simuliveTicket: string) =>
  signedCall('/internal/ingest/authorize', { protocol: 'simulive', streamId, simuliveTicket, ...ORIGIN });
const issue = (streamId: string) => (stub(streamId) as unknown as { issueSimuliveTicket(): Promise<string> }).issueSimuliveTicket();

async function refusal(response: Response): Promise<string> {
  expect(response.status).toBe(403);
  return (await json(response)).reason;
}

describe('simulive ticket', () => {
  it('admits its stream once with the ticket, then refuses the same ticket again', async () => {
    const stream = await createStream(ws, { record: true });
    const ticket = await issue(stream.streamId);
    expect(ticket).toMatch(/^slt_[A-Za-z0-9]{40}$/);
    const admitted = await authorizeSimulive(stream.streamId, ticket);
    expect(admitted.status).toBe(200);
    const grant = await json(admitted);
    expect(grant).toMatchObject({ streamId: stream.streamId, resume: false, record: true });
    expect(grant.durablePrefix).toMatch(new RegExp(`^live/${stream.streamId}/${grant.sessionId}/?$`));
    expect(await refusal(await authorizeSimulive(stream.streamId, ticket))).toBe('simulive_ticket_invalid');
  });

  it('refuses a made-up ticket, another stream\'s ticket, and a ticket replaced by a newer one', async () => {
    const a = await createStream(ws);
    const b = await createStream(ws);
    const first = await issue(a.streamId);
    expect(await refusal(await authorizeSimulive(a.streamId, `slt_${'x'.repeat(40)}`))).toBe('simulive_ticket_invalid');
    expect(await refusal(await authorizeSimulive(b.streamId, first))).toBe('simulive_ticket_invalid');
    const second = await issue(a.streamId);
    expect(await refusal(await authorizeSimulive(a.streamId, first))).toBe('simulive_ticket_invalid');
    // The refusals above used nothing up: the newest ticket still admits.
    expect((await authorizeSimulive(a.streamId, second)).status).toBe(200);
  });

  it('refuses an expired ticket', async () => {
    const stream = await createStream(ws);
    const ticket = await issue(stream.streamId);
    await runInDurableObject(stub(stream.streamId), (_instance, state) => {
      state.storage.sql.exec('UPDATE simulive_ticket SET expires_at = ?', Date.now() - 1);
    });
    expect(await refusal(await authorizeSimulive(stream.streamId, ticket))).toBe('simulive_ticket_invalid');
  });

  it('keeps the ticket out of the key path: a simulive body with a key, or a ticket on rtmp, is a 400', async () => {
    const stream = await createStream(ws);
    const ticket = await issue(stream.streamId);
    expect((await signedCall('/internal/ingest/authorize', { protocol: 'simulive', streamKey: stream.streamKey, ...ORIGIN })).status).toBe(400);
    expect((await signedCall('/internal/ingest/authorize', { protocol: 'rtmp', streamId: stream.streamId, simuliveTicket: ticket, ...ORIGIN })).status).toBe(400);
    // Encoders still publish with their key.
    expect((await signedCall('/internal/ingest/authorize', { protocol: 'rtmp', streamKey: stream.streamKey, ...ORIGIN })).status).toBe(200);
  });
});
