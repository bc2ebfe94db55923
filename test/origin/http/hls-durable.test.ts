// The origin serves a rendition's playlist from its durable copy once one exists (origin/durable), else ffmpeg's.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { durableFirst, startHlsServer, type HlsServer } from '../../../origin/http/hls-server.ts';

let tmp: string;
let server: HlsServer;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'hls-durable-'));
  for (const r of ['source', '360p']) await mkdir(path.join(tmp, 'str', 'ses', r), { recursive: true });
  await writeFile(path.join(tmp, 'str', 'ses', 'source', 'index.m3u8'), '#EXTM3U\n# ffmpeg\n');
  await writeFile(path.join(tmp, 'str', 'ses', 'source', 'durable.m3u8'), '#EXTM3U\n# durable\n');
  await writeFile(path.join(tmp, 'str', 'ses', '360p', 'index.m3u8'), '#EXTM3U\n# ffmpeg only\n');
  server = await startHlsServer({ mediaRoot: tmp, host: '127.0.0.1', port: 0, hlsSigningSecret: null });
});
afterAll(async () => {
  server?.close();
  await rm(tmp, { recursive: true, force: true });
});

it('answers index.m3u8 with the durable playlist when there is one', async () => {
  const get = async (p: string) => (await fetch(`http://127.0.0.1:${server.port}/hls/str/ses/${p}`)).text();
  expect(await get('source/index.m3u8')).toContain('# durable');
  expect(await get('360p/index.m3u8')).toContain('# ffmpeg only');
  expect(durableFirst(path.join(tmp, 'str', 'ses', 'source', 'seg.ts'))).toBe(path.join(tmp, 'str', 'ses', 'source', 'seg.ts'));
});
