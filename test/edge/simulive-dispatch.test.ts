// The edge's check of a simulive recording source (edge/event/simulive-dispatch.ts; library videos as sources are in
// simulive-video-source.test.ts): a recording of the event's workspace, exportable, whose MP4 is in R2 — of any size, since the origin reads it in byte ranges (an hour's MP4 is far above one response).
import { describe, it, expect, beforeAll } from 'vitest';
import { env } from 'cloudflare:workers';
import { createWorkspace, type Workspace } from './helpers.ts';
import { checkSimuliveSource } from '../../edge/event/simulive-dispatch.ts';
import { MAX_MEDIA_READ_BYTES } from '../../edge/routes/internal-media.ts';
import { recordingMp4Key } from '../../shared/schemas/internal.ts';

let ws: Workspace;
let other: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('simulive-dispatch');
  other = await createWorkspace('simulive-dispatch-other');
});

async function recording(workspaceId: string, exportable: boolean): Promise<string> {
  const id = `rec_${crypto.randomUUID().slice(0, 8)}`;
  const now = new Date().toISOString();
  await env.DB.prepare(
    `INSERT INTO recordings (id, workspace_id, stream_id, session_id, status, created_at, updated_at, watchable, exportable)
     VALUES (?, ?, 'ls_source', ?, 'ready', ?, ?, 1, ?)`,
  )
    .bind(id, workspaceId, `ses_${id}`, now, now, exportable ? 1 : 0)
    .run();
  return id;
}

describe('checkSimuliveSource', () => {
  it('takes an MP4 larger than one /internal/media response', async () => {
    const id = await recording(ws.id, true);
    await env.MEDIA.put(recordingMp4Key(id), new Uint8Array(MAX_MEDIA_READ_BYTES + 1));
    expect(await checkSimuliveSource(env, ws.id, { recordingId: id })).toEqual({
      ok: true,
      media: { key: recordingMp4Key(id), grantPrefix: `recordings/${id}/`, hlsPrefix: `live/ls_source/ses_${id}` },
    });
  });

  it('refuses a recording of another workspace, one not exportable, and one without its MP4, saying which', async () => {
    const foreign = await recording(other.id, true);
    await env.MEDIA.put(recordingMp4Key(foreign), 'mp4');
    expect(await checkSimuliveSource(env, ws.id, { recordingId: foreign })).toMatchObject({ ok: false, detail: expect.stringMatching(/does not exist in this workspace/) });
    const building = await recording(ws.id, false);
    expect(await checkSimuliveSource(env, ws.id, { recordingId: building })).toMatchObject({ ok: false, detail: expect.stringMatching(/not exportable yet/) });
    const missing = await recording(ws.id, true);
    expect(await checkSimuliveSource(env, ws.id, { recordingId: missing })).toMatchObject({ ok: false, detail: expect.stringMatching(/no MP4 in storage/) });
  });
});
