// A workspace lists, issues and revokes its own access tokens (/v1/access-tokens); a revoked token is 401 at once.
// The admin can revoke too, for a workspace that lost control of every token it had.
import { describe, it, expect } from 'vitest';
import { ADMIN_TOKEN, api, call, createWorkspace, json, type Workspace } from './helpers.ts';

const basic = (token: { id: string; secret: string }) => `Basic ${btoa(`${token.id}:${token.secret}`)}`;
const as = (workspace: Workspace, auth: string): Workspace => ({ ...workspace, auth });

describe('access tokens', () => {
  it('issues a second token (secret shown once), lists both without secrets, and revokes one at once', async () => {
    const ws = await createWorkspace('tokens');
    const created = await api(ws, 'POST', '/access-tokens', {});
    expect(created.status).toBe(201);
    const second = (await json(created)).data;
    expect(second).toMatchObject({ id: expect.stringMatching(/^at_/), secret: expect.any(String), workspaceId: ws.id, revokedAt: null });
    const rotated = as(ws, basic(second));
    expect((await api(rotated, 'GET', '/live/streams')).status).toBe(200);

    const listed = await json(await api(rotated, 'GET', '/access-tokens'));
    expect(listed.data).toHaveLength(2);
    expect(listed.data.every((t: any) => t.secret === undefined)).toBe(true);
    expect(JSON.stringify(listed)).not.toContain(second.secret);
    const first = listed.data.find((t: any) => t.id !== second.id);

    // Rotation: the new token revokes the old one; the old one is refused on its very next call.
    expect((await api(ws, 'GET', '/live/streams')).status).toBe(200);
    expect((await api(rotated, 'DELETE', `/access-tokens/${first.id}`)).status).toBe(204);
    const refused = await api(ws, 'GET', '/live/streams');
    expect(refused.status).toBe(401);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect((await api(rotated, 'GET', `/access-tokens/${first.id}`)).status).toBe(200);
    expect((await json(await api(rotated, 'GET', `/access-tokens/${first.id}`))).data.revokedAt).toEqual(expect.any(String));
    // Revoking again is harmless; a token may revoke itself.
    expect((await api(rotated, 'DELETE', `/access-tokens/${first.id}`)).status).toBe(204);
    expect((await api(rotated, 'DELETE', `/access-tokens/${second.id}`)).status).toBe(204);
    expect((await api(rotated, 'GET', '/live/streams')).status).toBe(401);
  });

  it("another workspace's token is the same 404 as a missing one", async () => {
    const mine = await createWorkspace('tokens-mine');
    const theirs = await createWorkspace('tokens-theirs');
    const theirToken = (await json(await api(theirs, 'GET', '/access-tokens'))).data[0];
    for (const id of [theirToken.id, 'at_doesnotexist']) {
      for (const method of ['GET', 'DELETE']) {
        const response = await api(mine, method, `/access-tokens/${id}`);
        expect(response.status, `${method} ${id}`).toBe(404);
        expect((await json(response)).type).toBe('https://riverhead.dev/problems/not-found');
      }
    }
    expect((await api(theirs, 'GET', '/live/streams')).status).toBe(200);
  });

  it('the admin revokes a workspace token', async () => {
    const ws = await createWorkspace('tokens-admin');
    const token = (await json(await api(ws, 'GET', '/access-tokens'))).data[0];
    const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
    const revoke = await call(`/admin/workspaces/${ws.id}/access-tokens/${token.id}`, { method: 'DELETE', headers: admin });
    expect(revoke.status).toBe(204);
    expect((await api(ws, 'GET', '/live/streams')).status).toBe(401);
    const elsewhere = await call(`/admin/workspaces/ws_other/access-tokens/${token.id}`, { method: 'DELETE', headers: admin });
    expect(elsewhere.status).toBe(404);
  });

  it('refuses unknown fields when issuing', async () => {
    const ws = await createWorkspace('tokens-strict');
    const response = await api(ws, 'POST', '/access-tokens', { scope: 'all' });
    expect(response.status).toBe(400);
    expect((await json(response)).errors).toEqual([{ field: 'scope', message: 'unknown field' }]);
  });
});
