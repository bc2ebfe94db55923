// /v1/signing-keys: RS256 key pairs per workspace; the private key is shown once and signs tokens the edge accepts.
import { describe, it, expect, beforeAll } from 'vitest';
import { env } from 'cloudflare:workers';
import { SignJWT, importPKCS8, importSPKI, jwtVerify } from 'jose';
import { api, call, createWorkspace, json, type Workspace } from './helpers.ts';

let ws: Workspace;
let other: Workspace;
beforeAll(async () => {
  ws = await createWorkspace('keys');
  other = await createWorkspace('keys-other');
});

async function createKey(workspace: Workspace) {
  const response = await api(workspace, 'POST', '/signing-keys');
  expect(response.status).toBe(201);
  return (await json(response)).data as { signingKeyId: string; privateKey: string; publicKey: string; createdAt: string };
}

describe('signing keys', () => {
  it('creates an RS256 pair: the private key (base64 PEM) once, the public half kept', async () => {
    const key = await createKey(ws);
    expect(key.signingKeyId).toMatch(/^sgk_/);
    const pem = atob(key.privateKey);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(key.publicKey).toMatch(/^-----BEGIN PUBLIC KEY-----/);

    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: key.signingKeyId })
      .setSubject('pb_1')
      .setExpirationTime('1h')
      .sign(await importPKCS8(pem, 'RS256'));
    const { payload } = await jwtVerify(token, await importSPKI(key.publicKey, 'RS256'));
    expect(payload.sub).toBe('pb_1');

    const fetched = (await json(await api(ws, 'GET', `/signing-keys/${key.signingKeyId}`))).data;
    expect(fetched).toEqual({ signingKeyId: key.signingKeyId, publicKey: key.publicKey, createdAt: key.createdAt });
    const stored = await env.DB.prepare('SELECT * FROM signing_keys WHERE id = ?').bind(key.signingKeyId).first<Record<string, string>>();
    expect(JSON.stringify(stored)).not.toContain('PRIVATE');
    expect(JSON.parse(stored!.public_key_jwk!)).toMatchObject({ kty: 'RSA', e: 'AQAB' });
    expect(JSON.parse(stored!.public_key_jwk!).d).toBeUndefined();
  });

  it('lists public halves newest first, paginated, only of this workspace', async () => {
    const workspace = await createWorkspace('key-list');
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await createKey(workspace)).signingKeyId);
    await createKey(other);
    const first = await json(await api(workspace, 'GET', '/signing-keys?limit=2'));
    const second = await json(await api(workspace, 'GET', `/signing-keys?limit=2&cursor=${first.pagination.nextCursor}`));
    const listed = [...first.data, ...second.data];
    expect(listed.map((k: any) => k.signingKeyId)).toEqual([...made].reverse());
    for (const k of listed) expect(k.privateKey).toBeUndefined();
    expect(second.pagination.nextCursor).toBeNull();
  });

  it('deletes; another workspace cannot see or delete it', async () => {
    const key = await createKey(ws);
    expect((await api(other, 'GET', `/signing-keys/${key.signingKeyId}`)).status).toBe(404);
    expect((await api(other, 'DELETE', `/signing-keys/${key.signingKeyId}`)).status).toBe(404);
    expect((await api(ws, 'DELETE', `/signing-keys/${key.signingKeyId}`)).status).toBe(204);
    expect((await api(ws, 'GET', `/signing-keys/${key.signingKeyId}`)).status).toBe(404);
    expect((await api(ws, 'DELETE', `/signing-keys/${key.signingKeyId}`)).status).toBe(404);
  });

  it('needs credentials and takes no body fields', async () => {
    expect((await call('/v1/signing-keys', { method: 'POST' })).status).toBe(401);
    expect((await api(ws, 'GET', '/signing-keys?limit=0')).status).toBe(400);
  });
});
