// A loopback stand-in of the edge's /internal/media API over a folder standing for the R2 bucket, for origin job tests:
// GET and PUT of one object, each checked against a media grant the way the edge checks it (shared/media-grant.ts,
// the origin named by x-riverhead-origin), and the bucket filled from a session folder in the durable layout
// (`live/{streamId}/{sessionId}/…`, playlists closed). Reads can be made to fail for a while (a storage outage).
import { cp, mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { MEDIA_GRANT_HEADER, verifyMediaGrant } from '../../../shared/media-grant.ts';
import { ORIGIN_ID_HEADER } from '../../../shared/origin-credentials.ts';
import { appendEndList } from '../../../origin/pipeline/playlists.ts';

export const STORE_MASTER = 'test-edge-master-key-0123456789abcdef';

export interface MediaStore {
  url: string;
  root: string;
  /** keys read (200 or 404), in order */
  reads: string[];
  /** keys written */
  writes: string[];
  /** requests refused for their grant */
  refused: string[];
  /** the next `n` reads answer 503 */
  failReads(n: number): void;
  close(): Promise<void>;
}

export async function startMediaStore(root: string): Promise<MediaStore> {
  await mkdir(root, { recursive: true });
  const reads: string[] = [];
  const writes: string[] = [];
  const refused: string[] = [];
  let failing = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const url = new URL(req.url!, 'http://store');
        const key = decodeURIComponent(url.pathname.replace(/^\/internal\/media\//, ''));
        if (key.split('/').some((p) => p === '..' || p === '')) return res.writeHead(400).end('bad key');
        const verdict = await verifyMediaGrant(STORE_MASTER, req.headers[MEDIA_GRANT_HEADER] as string | undefined, String(req.headers[ORIGIN_ID_HEADER] ?? ''), key, Date.now());
        if (!verdict.ok) {
          refused.push(key);
          return res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ detail: `media grant refused (${verdict.reason})` }));
        }
        const file = path.join(root, key);
        if (req.method === 'GET') {
          if (failing > 0) {
            failing--;
            return res.writeHead(503).end('storage hiccup');
          }
          reads.push(key);
          const body = await readFile(file).catch(() => null);
          if (!body) return res.writeHead(404).end('no such key');
          return res.writeHead(200, { 'content-length': String(body.length) }).end(body);
        }
        if (req.method === 'PUT' && !url.searchParams.has('uploadId')) {
          await mkdir(path.dirname(file), { recursive: true });
          await writeFile(file, Buffer.concat(chunks));
          writes.push(key);
          return res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ key }));
        }
        res.writeHead(405).end('not in this stand-in');
      })().catch((error: unknown) => res.writeHead(500).end(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    root,
    reads,
    writes,
    refused,
    failReads: (n) => {
      failing = n;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Copies a session folder into the bucket as its durable media: playlists closed with ENDLIST (the media is final). */
export async function storeSession(store: MediaStore, prefix: string, sessionDir: string): Promise<void> {
  const to = path.join(store.root, prefix);
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(sessionDir, { withFileTypes: true })) {
    const from = path.join(sessionDir, entry.name);
    if (entry.isFile() && ['ladder.json', 'master.m3u8', 'session.json'].includes(entry.name)) await cp(from, path.join(to, entry.name));
    if (!entry.isDirectory()) continue;
    const playlist = await readFile(path.join(from, 'index.m3u8'), 'utf8').catch(() => null);
    if (playlist === null) continue;
    await mkdir(path.join(to, entry.name), { recursive: true });
    for (const file of await readdir(from)) if (file.endsWith('.ts') && (await stat(path.join(from, file))).isFile()) await cp(path.join(from, file), path.join(to, entry.name, file));
    await writeFile(path.join(to, entry.name, 'index.m3u8'), playlist.includes('#EXT-X-ENDLIST') ? playlist : appendEndList(playlist));
  }
}
