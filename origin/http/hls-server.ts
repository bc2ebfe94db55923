// The origin's HTTP face on uWebSockets.js: live HLS files from the media root (the edge cache pulls
// them, each request signed with this origin's secret), and routes other modules add (signed control POSTs from the
// edge). Health and metrics are on the admin listener (admin-server.ts), not here.
import { open, readFile, stat } from 'node:fs/promises';
import { FileCache } from './file-cache.ts';
import { existsSync } from 'node:fs';
import { LOCAL_DURABLE_PLAYLIST } from '../durable/durable-playlist.ts';
import { MEDIA_PLAYLIST as MEDIA_PLAYLIST_NAME } from '../pipeline/hls-command.ts';
import { verifySignedRequestSync } from './signed-request.ts';
import { answerLowLatency, lowLatencyTarget, type LowLatencyAnswer } from '../llhls/ll-http.ts';
import type { LowLatencyStore } from '../llhls/low-latency-store.ts';
import type { FileHandle } from 'node:fs/promises';
import { STATUS_CODES } from 'node:http';
import path from 'node:path';
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';

export interface HlsServerOptions {
  /** folder holding one folder per stream: {mediaRoot}/{streamId}/master.m3u8 … */
  mediaRoot: string;
  /** default 0.0.0.0 */
  host?: string;
  /** 0 picks a free port (see `server.port`) */
  port: number;
  /** the server adds its request counter to it (served by the admin listener's /metrics) */
  registry?: Registry;
  /**
   * HLS requests must carry the edge's signature (shared/request-signing.ts over method, path and query) made with
   * this secret, else 401. null serves them unsigned: HLS_ALLOW_UNSIGNED=1, for local debugging only.
   */
  hlsSigningSecret: string | null;
  /** Cache-Control max-age of playlists in seconds; they change every segment. Default 1. */
  playlistMaxAge?: number;
  /** largest request body a route accepts; default 1 MiB */
  maxBodyBytes?: number;
  /** live low-mode sessions (origin/llhls): their LL playlists, parts and inits answered from memory */
  lowLatency?: LowLatencyStore;
}

export interface RouteRequest {
  method: string;
  url: string;
  query: string;
  /** lower-cased names */
  headers: Record<string, string>;
  body: Buffer;
}

export interface RouteResponse {
  status: number;
  /** serialised as the body with application/json unless contentType says otherwise */
  json?: unknown;
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
}

export type RouteHandler = (body: Buffer, headers: Record<string, string>, req: RouteRequest) => Promise<RouteResponse>;
export type RouteMethod = 'get' | 'post' | 'put' | 'patch' | 'del';

export interface HlsServer {
  readonly port: number;
  /** adds a POST route (exact path, or uWS pattern like /control/:id) */
  post(pattern: string, handler: RouteHandler): void;
  route(method: RouteMethod, pattern: string, handler: RouteHandler): void;
  /** stops listening and closes open connections */
  close(): void;
}

const CONTENT_TYPES: Record<string, string> = {
  '.m3u8': 'application/vnd.apple.mpegurl',
  '.ts': 'video/mp2t',
  '.mp4': 'video/mp4',
  '.m4s': 'video/mp4',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';
// A thumbnail is replaced in place as the stream goes on.
const IMAGE_CACHE = 'public, max-age=5';
const NO_STORE = 'no-store';
const STREAM_ID_RE = /^[A-Za-z0-9_-]{1,128}$/;
const FILE_SEGMENT_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const MAX_PATH_SEGMENTS = 4;
const CHUNK_BYTES = 256 * 1024;

/** Response state shared by a handler and its async continuation. */
interface Reply {
  res: HttpResponse;
  /** the client went away: the response must not be touched again */
  aborted: boolean;
  /** a response was sent */
  sent: boolean;
  /** HEAD: headers and length only, whatever the status */
  head: boolean;
  /** resolves a pending backpressure wait when the client goes away */
  wake?: () => void;
}

export function startHlsServer(opts: HlsServerOptions): Promise<HlsServer> {
  const root = path.resolve(opts.mediaRoot);
  const playlistCache = `public, max-age=${Math.max(0, Math.round(opts.playlistMaxAge ?? 1))}`;
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const requests = opts.registry ? requestCounter(opts.registry) : undefined;
  const count = (route: string, status: number): void => requests?.inc({ route, status: String(status) });
  // HLS requests also by kind (issue 15's load test: origin requests per part per rendition, held playlists apart).
  const hlsRequests = opts.registry ? hlsRequestCounter(opts.registry) : undefined;
  const app: TemplatedApp = uWS.App();
  const files = new FileCache();

  const serveHls = (head: boolean) => (res: HttpResponse, req: HttpRequest) => {
    const reply = attach(res, head);
    // HttpRequest is only valid until the first await: copy what we need now.
    const url = req.getUrl();
    const range = req.getHeader('range');
    const ifNoneMatch = req.getHeader('if-none-match');
    const rawQuery = req.getQuery() ?? '';
    const kind = hlsRequestKind(url, rawQuery);
    const countHls = (status: number): void => {
      count('hls', status);
      hlsRequests?.inc({ kind, status: String(status) });
    };
    if (opts.hlsSigningSecret !== null) {
      const query = req.getQuery();
      const verdict = verifySignedRequestSync(opts.hlsSigningSecret, head ? 'HEAD' : 'GET', query ? `${url}?${query}` : url, { get: (name) => req.getHeader(name) || null });
      if (!verdict.ok) {
        countHls(401);
        return sendText(reply, 401, `unsigned or badly signed request (${verdict.reason})`, { 'Cache-Control': NO_STORE });
      }
    }
    const resolved = resolveMediaPath(root, url);
    if (!resolved.ok) {
      countHls(resolved.status);
      return sendText(reply, resolved.status, resolved.message, { 'Cache-Control': NO_STORE });
    }
    const request = { head, range, ifNoneMatch, playlistCache };
    // A live low-mode session's playlist, parts and inits come from memory (origin/llhls), maybe after a blocking wait.
    const held = opts.lowLatency && lowLatencyTarget(opts.lowLatency, path.relative(root, resolved.file).split(path.sep));
    if (held) {
      const aborted = new AbortController();
      reply.wake = () => aborted.abort();
      void answerLowLatency(held, rawQuery, aborted.signal).then(
        (answer) => {
          reply.wake = undefined;
          if (answer.kind !== 'disk') return countHls(sendLowLatency(reply, resolved.file, answer, request));
          void serveFile(reply, durableFirst(resolved.file), request, files).then(
            (status) => countHls(status),
            () => {
              countHls(500);
              sendText(reply, 500, 'internal error', { 'Cache-Control': NO_STORE });
            },
          );
        },
        () => {
          countHls(500);
          sendText(reply, 500, 'internal error', { 'Cache-Control': NO_STORE });
        },
      );
      return;
    }
    const file = durableFirst(resolved.file);
    // A file in memory is answered right here, with no await: no file system call, no thread-pool hop.
    const cached = files.fresh(file);
    if (cached) return countHls(answerFromMemory(reply, file, cached.body, cached.mtime, request));
    void serveFile(reply, file, request, files).then(
      (status) => countHls(status),
      () => {
        countHls(500);
        sendText(reply, 500, 'internal error', { 'Cache-Control': NO_STORE });
      },
    );
  };
  app.get('/hls/*', serveHls(false));
  app.head('/hls/*', serveHls(true));

  const addRoute = (method: RouteMethod, pattern: string, handler: RouteHandler): void => {
    app[method](pattern, (res, req) => {
      const reply = attach(res);
      const headers: Record<string, string> = {};
      req.forEach((k, v) => (headers[k] = v));
      const base = { method: req.getMethod(), url: req.getUrl(), query: req.getQuery() ?? '', headers };
      void readBody(reply, maxBody).then(async (body) => {
        if (body === 'too-large') {
          count(pattern, 413);
          return sendJson(reply, 413, { title: 'request body too large', status: 413 }, 'application/problem+json');
        }
        if (body === undefined) return; // aborted
        let out: RouteResponse;
        try {
          out = await handler(body, headers, { ...base, body });
        } catch {
          out = { status: 500, json: { title: 'internal error', status: 500 }, contentType: 'application/problem+json' };
        }
        count(pattern, out.status);
        const payload = out.body ?? (out.json === undefined ? '' : JSON.stringify(out.json));
        send(reply, out.status, payload, { 'Content-Type': out.contentType ?? (out.body !== undefined ? 'application/octet-stream' : 'application/json'), 'Cache-Control': NO_STORE, ...out.headers });
      });
    });
  };

  // Registered last: uWS matches static and parameter routes before wildcards, so later routes still win.
  app.any('/*', (res) => {
    const reply = attach(res);
    count('other', 404);
    sendText(reply, 404, 'not found', { 'Cache-Control': NO_STORE });
  });

  return new Promise((resolve, reject) => {
    app.listen(opts.host ?? '0.0.0.0', opts.port, (socket: us_listen_socket | false) => {
      if (!socket) return reject(new Error(`cannot listen on ${opts.host ?? '0.0.0.0'}:${opts.port}`));
      const port = uWS.us_socket_local_port(socket as unknown as uWS.us_socket);
      let listening: us_listen_socket | undefined = socket;
      resolve({
        port,
        post: (pattern, handler) => addRoute('post', pattern, handler),
        route: addRoute,
        close() {
          if (listening) uWS.us_listen_socket_close(listening);
          listening = undefined;
          // Not in the typings of this build, but present: closes keep-alive connections too.
          (app as unknown as { close?: () => void }).close?.();
        },
      });
    });
  });
}

/**
 * A rendition's playlist is served from its durable copy once the session's shipper wrote one (origin/durable): it
 * lists only segments already in R2, or closed more than 3 s ago while storage lags, so the edge finds what it lists.
 */
export function durableFirst(file: string): string {
  if (path.basename(file) !== MEDIA_PLAYLIST_NAME) return file;
  const durable = path.join(path.dirname(file), LOCAL_DURABLE_PLAYLIST);
  return existsSync(durable) ? durable : file;
}

type Resolved = { ok: true; file: string } | { ok: false; status: 400 | 404; message: string };

/**
 * Maps `/hls/{streamId}/{...path}` to a file under the media root, or refuses. Each segment is
 * decoded on its own and must be a plain name, so `..`, `%2e%2e`, `%2f`, backslashes, NUL and
 * dot-files (our temporary files) never reach the file system; the join is checked once more.
 */
export function resolveMediaPath(root: string, url: string): Resolved {
  const rest = url.startsWith('/hls/') ? url.slice(5) : undefined;
  if (rest === undefined) return { ok: false, status: 404, message: 'not found' };
  const raw = rest.split('/');
  if (raw.length < 2 || raw.length > 1 + MAX_PATH_SEGMENTS) return { ok: false, status: 404, message: 'not found' };
  const segments: string[] = [];
  for (const r of raw) {
    let s: string;
    try {
      s = decodeURIComponent(r);
    } catch {
      return { ok: false, status: 400, message: 'bad path encoding' };
    }
    if (s === '.' || s === '..' || /[/\\\0]/.test(s)) return { ok: false, status: 400, message: 'bad path' };
    segments.push(s);
  }
  const [streamId, ...file] = segments as [string, ...string[]];
  if (!STREAM_ID_RE.test(streamId) || !file.every((f) => FILE_SEGMENT_RE.test(f))) return { ok: false, status: 400, message: 'bad path' };
  const name = file[file.length - 1]!;
  if (!(path.extname(name).toLowerCase() in CONTENT_TYPES)) return { ok: false, status: 404, message: 'not found' };
  const full = path.join(root, streamId, ...file);
  if (!full.startsWith(root + path.sep)) return { ok: false, status: 400, message: 'bad path' };
  return { ok: true, file: full };
}

export type ByteRange = { start: number; end: number } | 'unsatisfiable' | undefined;

/** RFC 9110 single byte range; several ranges or a malformed header mean the whole file. */
export function parseRange(header: string, size: number): ByteRange {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (m[2] !== '' && Number(m[2]) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

function cacheControlFor(file: string, playlistCache: string): string {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.m3u8') return playlistCache;
  if (ext === '.jpg' || ext === '.jpeg') return IMAGE_CACHE;
  return IMMUTABLE;
}

interface FileRequest {
  head: boolean;
  range: string;
  ifNoneMatch: string;
  playlistCache: string;
}

function fileHeaders(file: string, size: number, mtime: Date, playlistCache: string): Record<string, string> {
  return {
    'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
    'Cache-Control': cacheControlFor(file, playlistCache),
    'Accept-Ranges': 'bytes',
    'Last-Modified': mtime.toUTCString(),
    ETag: `W/"${size.toString(16)}-${Math.floor(mtime.getTime()).toString(16)}"`,
    'Access-Control-Allow-Origin': '*',
    'Access-Control-Expose-Headers': 'Content-Length, Content-Range',
  };
}

/** The conditional and range part shared by both paths: a final status, or what to send of the file. */
function plan(reply: Reply, size: number, headers: Record<string, string>, o: FileRequest): { status: number; start: number; length: number } | number {
  const etag = headers.ETag!;
  if (o.ifNoneMatch && o.ifNoneMatch.split(',').some((t) => t.trim() === etag || t.trim() === '*')) {
    send(reply, 304, undefined, headers);
    return 304;
  }
  const range = o.range ? parseRange(o.range, size) : undefined;
  if (range === 'unsatisfiable') {
    sendText(reply, 416, 'range not satisfiable', { 'Content-Range': `bytes */${size}`, 'Cache-Control': NO_STORE });
    return 416;
  }
  if (!range) return { status: 200, start: 0, length: size };
  headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
  return { status: 206, start: range.start, length: range.end - range.start + 1 };
}

function answerFromMemory(reply: Reply, file: string, body: Buffer, mtime: Date, o: FileRequest): number {
  const headers = fileHeaders(file, body.length, mtime, o.playlistCache);
  const part = plan(reply, body.length, headers, o);
  if (typeof part === 'number') return part;
  send(reply, part.status, body.subarray(part.start, part.start + part.length), headers);
  return part.status;
}

/** An answer of the low-latency store: a playlist (short cache), a part or init (immutable), or a problem. */
function sendLowLatency(reply: Reply, file: string, answer: Exclude<LowLatencyAnswer, { kind: 'disk' }>, o: FileRequest): number {
  if (reply.aborted) return 499;
  if (answer.kind === 'problem') {
    const { status, title, detail, field } = answer;
    send(reply, status, JSON.stringify({ title, status, detail, ...(field ? { field } : {}) }), { 'Content-Type': 'application/problem+json', 'Cache-Control': NO_STORE, 'Access-Control-Allow-Origin': '*' });
    return status;
  }
  if (answer.kind === 'media') return answerFromMemory(reply, file, Buffer.from(answer.body.buffer, answer.body.byteOffset, answer.body.byteLength), LOW_LATENCY_MTIME, o);
  send(reply, 200, answer.body, { 'Content-Type': CONTENT_TYPES['.m3u8']!, 'Cache-Control': o.playlistCache, 'Access-Control-Allow-Origin': '*' });
  return 200;
}

// Parts and inits are immutable under their names (session, leg, sequence): one date keeps their ETags stable.
const LOW_LATENCY_MTIME = new Date();

async function serveFile(reply: Reply, file: string, o: FileRequest, files: FileCache): Promise<number> {
  const st = await stat(file).catch(() => undefined);
  if (reply.aborted) return 499;
  if (!st || !st.isFile()) {
    sendText(reply, 404, 'not found', { 'Cache-Control': NO_STORE });
    return 404;
  }
  if (st.size <= files.maxFileBytes) {
    const body = await readFile(file).catch(() => undefined);
    if (reply.aborted) return 499;
    if (body) {
      files.put(file, body, st.mtime);
      return answerFromMemory(reply, file, body, st.mtime, o);
    }
  }
  const size = st.size;
  const headers = fileHeaders(file, size, st.mtime, o.playlistCache);
  const part = plan(reply, size, headers, o);
  if (typeof part === 'number') return part;
  const { status, start, length } = part;
  if (o.head) {
    if (!reply.aborted) {
      reply.sent = true;
      reply.res.cork(() => {
        writeHead(reply.res, status, headers);
        reply.res.endWithoutBody(length);
      });
    }
    return status;
  }
  const fh = await open(file, 'r').catch(() => undefined);
  if (!fh) {
    sendText(reply, 404, 'not found', { 'Cache-Control': NO_STORE });
    return 404;
  }
  try {
    await streamBody(reply, fh, start, length, status, headers);
  } finally {
    await fh.close();
  }
  return status;
}

/** Sends [start, start+length) in chunks, waiting on uWS backpressure so a slow client costs one chunk. */
async function streamBody(reply: Reply, fh: FileHandle, start: number, length: number, status: number, headers: Record<string, string>): Promise<void> {
  const { res } = reply;
  reply.sent = true;
  if (length === 0) {
    if (!reply.aborted) res.cork(() => writeHead(res, status, headers).end());
    return;
  }
  let sent = 0;
  let first = true;
  while (sent < length) {
    const n = Math.min(CHUNK_BYTES, length - sent);
    const buf = Buffer.allocUnsafe(n);
    const { bytesRead } = await fh.read(buf, 0, n, start + sent);
    if (reply.aborted) return;
    if (bytesRead < n) {
      // The file shrank under us (it should not: segments are immutable); end the connection honestly.
      res.cork(() => res.close());
      return;
    }
    const chunk = buf.subarray(0, bytesRead);
    let offsetBefore = 0;
    let ok = false;
    let done = false;
    res.cork(() => {
      if (first) writeHead(res, status, headers);
      offsetBefore = res.getWriteOffset();
      [ok, done] = res.tryEnd(chunk, length);
    });
    first = false;
    sent += n;
    if (done) return;
    if (!ok) {
      await new Promise<void>((resolve) => {
        reply.wake = resolve;
        res.onWritable((offset) => {
          if (reply.aborted) return true;
          const [ok2, done2] = res.tryEnd(chunk.subarray(offset - offsetBefore), length);
          if (done2 || ok2) {
            reply.wake = undefined;
            resolve();
          }
          return ok2;
        });
      });
      if (reply.aborted) return;
    }
  }
}

function attach(res: HttpResponse, head = false): Reply {
  const reply: Reply = { res, aborted: false, sent: false, head };
  res.onAborted(() => {
    reply.aborted = true;
    reply.wake?.();
  });
  return reply;
}

function writeHead(res: HttpResponse, status: number, headers: Record<string, string>): HttpResponse {
  res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`.trim());
  for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
  return res;
}

function send(reply: Reply, status: number, body: string | Buffer | undefined, headers: Record<string, string>): void {
  if (reply.aborted || reply.sent) return;
  reply.sent = true;
  reply.res.cork(() => {
    writeHead(reply.res, status, headers);
    if (body === undefined) reply.res.endWithoutBody(0);
    else if (reply.head) reply.res.endWithoutBody(Buffer.byteLength(body));
    else reply.res.end(body);
  });
}

function sendText(reply: Reply, status: number, text: string, headers: Record<string, string> = {}): void {
  send(reply, status, `${text}\n`, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
}

function sendJson(reply: Reply, status: number, value: unknown, contentType = 'application/json'): void {
  send(reply, status, JSON.stringify(value), { 'Content-Type': contentType, 'Cache-Control': NO_STORE });
}

/** The request body, bounded; undefined when the client went away, 'too-large' past the limit. */
function readBody(reply: Reply, max: number): Promise<Buffer | undefined | 'too-large'> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let size = 0;
    let over = false;
    reply.wake = () => resolve(undefined);
    reply.res.onData((chunk, isLast) => {
      if (!over) {
        size += chunk.byteLength;
        if (size > max) over = true;
        // uWS reuses the ArrayBuffer after this callback: copy.
        else parts.push(Buffer.from(new Uint8Array(chunk).slice()));
      }
      if (isLast) {
        reply.wake = undefined;
        resolve(over ? 'too-large' : Buffer.concat(parts, size));
      }
    });
  });
}

export function requestCounter(registry: Registry): Counter<'route' | 'status'> {
  const name = 'riverhead_origin_http_requests_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'route' | 'status'>;
  return new Counter({ name, help: 'HTTP requests answered by the origin, by route and status', labelNames: ['route', 'status'], registers: [registry] });
}

export type HlsRequestKind = 'playlist-blocking' | 'playlist' | 'part' | 'segment' | 'init' | 'other';

/** What an HLS request asks for, by its file name (LL-HLS names: origin/llhls/ll-playlist.ts) and blocking query. */
export function hlsRequestKind(url: string, query: string): HlsRequestKind {
  const name = url.slice(url.lastIndexOf('/') + 1);
  if (name.endsWith('.m3u8')) return /(^|&)_HLS_msn=/.test(query) ? 'playlist-blocking' : 'playlist';
  if (/\.\d+\.m4s$/.test(name)) return 'part';
  if (name.endsWith('.m4s') || name.endsWith('.ts')) return 'segment';
  if (name.endsWith('.mp4')) return 'init';
  return 'other';
}

export function hlsRequestCounter(registry: Registry): Counter<'kind' | 'status'> {
  const name = 'riverhead_origin_hls_requests_total';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'kind' | 'status'>;
  return new Counter({ name, help: 'HLS requests answered by the origin, by kind (playlist-blocking, playlist, part, segment, init, other) and status', labelNames: ['kind', 'status'], registers: [registry] });
}
