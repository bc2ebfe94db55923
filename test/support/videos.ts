// The video library (issue 13) from a customer's side, for end-to-end tests and the vod-processing bench: test files
// made with ffmpeg, the one-time upload URL's part protocol (a part can be cut mid-body on purpose), a loopback HTTP
// server to import from that drops its connection once mid-body, polling a video until it is ready or failed with
// every progress value seen, and reading what a viewer gets (the ladder through ffprobe, the MP4 by byte range).
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { ffprobe } from './encoder.ts';
import type { Stack } from './stack.ts';

const run = promisify(execFile);

export interface TestVideoRecipe {
  /** WxH, e.g. '1280x720' */
  size: string;
  seconds: number;
  /** H.264 target bitrate, e.g. '1300k': chosen for the file size a test needs */
  videoBitrate: string;
  /** the lavfi video source, 'testsrc2' unless a test wants other pictures */
  pattern?: 'testsrc2' | 'testsrc' | 'smptehdbars';
  /** tone frequency, so two files differ in sound too */
  toneHz?: number;
  rate?: number;
}

export interface TestVideo {
  file: string;
  bytes: number;
  seconds: number;
  width: number;
  height: number;
}

/** An H.264/AAC MP4 as a camera or editor would give it (moov at the end: no fast start), x264 `veryfast` (B-frames, CABAC: a real encoder's output at half the CPU of `fast`), 2 s GOP. */
export async function encodeTestVideo(file: string, recipe: TestVideoRecipe): Promise<TestVideo> {
  const { size, seconds, videoBitrate, pattern = 'testsrc2', toneHz = 440, rate = 30 } = recipe;
  const kbps = Number.parseInt(videoBitrate, 10);
  await run(
    'ffmpeg',
    [
      '-hide_banner', '-loglevel', 'error', '-nostdin', '-y',
      '-f', 'lavfi', '-i', `${pattern}=size=${size}:rate=${rate}`,
      '-f', 'lavfi', '-i', `sine=frequency=${toneHz}:sample_rate=48000`,
      '-t', String(seconds),
      '-c:v', 'libx264', '-preset', 'veryfast', '-b:v', videoBitrate, '-maxrate', `${Math.round(kbps * 1.2)}k`, '-bufsize', `${kbps * 2}k`,
      '-g', String(rate * 2), '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '64k',
      file,
    ],
    { timeout: 150_000 },
  );
  const [width, height] = size.split('x').map(Number) as [number, number];
  return { file, bytes: (await stat(file)).size, seconds, width, height };
}

/** The first `fraction` of a file's bytes: an MP4 without its moov box (written last), which no prober can read. */
export async function truncatedCopy(source: string, target: string, fraction: number): Promise<number> {
  const bytes = await readFile(source);
  const kept = bytes.subarray(0, Math.floor(bytes.length * fraction));
  await writeFile(target, kept);
  return kept.length;
}

// ---------------------------------------------------------------------------------------------------------------
// The upload URL (no access token: the URL is the credential).

export interface VideoUpload {
  videoId: string;
  uploadUrl: string;
  expiresAt: string;
  partSize: number;
  maxParts: number;
}

/** POST /v1/videos/uploads; throws with the answer unless 201. */
export async function createUpload(stack: Stack, body: Record<string, unknown> = {}): Promise<VideoUpload> {
  const response = await stack.api('POST', '/videos/uploads', body);
  if (response.status !== 201) throw new Error(`creating the upload failed: ${response.status} ${JSON.stringify(response.body)}`);
  // The URL carries its one-time token: a secret no log line may show.
  stack.addSecret('stream-key', new URL(response.body.data.uploadUrl).pathname.split('/').filter(Boolean).at(-1)!);
  return response.body.data;
}

/** The file's parts as the protocol cuts them: every part but the last exactly partSize. */
export function partsOf(bytes: Uint8Array, partSize: number): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += partSize) parts.push(bytes.subarray(offset, Math.min(bytes.length, offset + partSize)));
  return parts;
}

/** PUT {uploadUrl}/parts/{n}: the status and the answer's body. */
export async function putPart(uploadUrl: string, n: number, part: Uint8Array): Promise<{ status: number; body: any }> {
  const response = await fetch(`${uploadUrl}/parts/${n}`, { method: 'PUT', body: part, headers: { 'content-type': 'application/octet-stream' } });
  return { status: response.status, body: await bodyOf(response) };
}

/**
 * A PUT of part `n` that announces the whole part (Content-Length) but sends only its first `sentBytes` and then
 * drops the connection, as a client whose network went away. Resolves once the socket is closed; what the edge made
 * of it is for GET {uploadUrl} to say.
 */
export function putPartCutMidBody(uploadUrl: string, n: number, part: Uint8Array, sentBytes: number): Promise<{ answered: number | null }> {
  const url = new URL(`${uploadUrl}/parts/${n}`);
  return new Promise((resolve) => {
    let answered: number | null = null;
    const request = http.request(
      { method: 'PUT', host: url.hostname, port: url.port, path: url.pathname, headers: { 'content-type': 'application/octet-stream', 'content-length': String(part.length) } },
      (response) => {
        // An answer before the body ended would be the edge refusing early; kept for the report.
        answered = response.statusCode ?? null;
        response.resume();
      },
    );
    request.on('error', () => {}); // the cut is the point
    request.on('close', () => resolve({ answered }));
    request.write(part.subarray(0, sentBytes), () => {
      // Let the bytes reach the edge before the connection goes, so the cut is mid-body and not before it.
      setTimeout(() => request.destroy(), 300);
    });
  });
}

/** GET {uploadUrl}: the parts the edge holds, to resume from. */
export async function uploadState(uploadUrl: string): Promise<{ status: number; body: any }> {
  const response = await fetch(uploadUrl);
  return { status: response.status, body: await bodyOf(response) };
}

/** POST {uploadUrl}/complete: the parts become the source and processing starts. */
export async function completeUpload(uploadUrl: string): Promise<{ status: number; body: any }> {
  const response = await fetch(`${uploadUrl}/complete`, { method: 'POST' });
  return { status: response.status, body: await bodyOf(response) };
}

/** PUT {uploadUrl}: a small file in one body. */
export async function putWhole(uploadUrl: string, bytes: Uint8Array): Promise<{ status: number; body: any }> {
  const response = await fetch(uploadUrl, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  return { status: response.status, body: await bodyOf(response) };
}

/** The parts a GET {uploadUrl} answer lists, whatever envelope it has ({data: {parts}} or {parts}). */
export function listedParts(body: any): { n: number; size: number }[] {
  const parts = body?.data?.parts ?? body?.parts ?? [];
  return (parts as any[]).map((p) => ({ n: Number(p.n ?? p.partNumber), size: Number(p.size) }));
}

async function bodyOf(response: Response): Promise<any> {
  const text = await response.text();
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// A source to import from.

export interface ServedRequest {
  method: string;
  range: string | null;
  status: number;
  /** body bytes written before the response ended or was cut */
  bytesSent: number;
  dropped: boolean;
}

export interface FlakyFileServer {
  url: string;
  requests: ServedRequest[];
  close(): Promise<void>;
}

/**
 * Serves one file over plain HTTP on 127.0.0.1 (HEAD, GET, one `Range: bytes=a-[b]`), and drops the connection of the
 * first GET after `dropAfterBytes` of its body, as a flaky CDN would. Every request is recorded.
 */
export async function startFlakyFileServer(file: string, options: { dropAfterBytes: number; contentType?: string }): Promise<FlakyFileServer> {
  const size = (await stat(file)).size;
  const requests: ServedRequest[] = [];
  let dropsLeft = 1;
  const server = http.createServer((req, res) => {
    const rangeHeader = req.headers.range ?? null;
    const entry: ServedRequest = { method: req.method ?? 'GET', range: rangeHeader, status: 200, bytesSent: 0, dropped: false };
    requests.push(entry);
    let start = 0;
    let end = size - 1;
    const range = rangeHeader ? /^bytes=(\d+)-(\d*)$/.exec(rangeHeader) : null;
    if (rangeHeader && !range) {
      entry.status = 416;
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      if (start >= size || start > end) {
        entry.status = 416;
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      entry.status = 206;
    }
    const headers: Record<string, string> = {
      'content-type': options.contentType ?? 'video/mp4',
      'content-length': String(end - start + 1),
      'accept-ranges': 'bytes',
      'last-modified': 'Sat, 28 Nov 2026 12:00:00 GMT',
      etag: `"${size}"`,
    };
    if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(entry.status, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const drop = dropsLeft > 0 && req.method === 'GET';
    if (drop) dropsLeft -= 1;
    const limit = drop ? Math.min(options.dropAfterBytes, end - start + 1) : Infinity;
    const stream = createReadStream(file, { start, end, highWaterMark: 64 * 1024 });
    stream.on('data', (chunk) => {
      const buffer = chunk as Buffer;
      const room = limit - entry.bytesSent;
      if (room <= 0) return;
      const piece = buffer.length > room ? buffer.subarray(0, room) : buffer;
      entry.bytesSent += piece.length;
      const flushed = res.write(piece);
      if (entry.bytesSent >= limit) {
        stream.destroy();
        // Once the bytes are out, the connection goes without the rest of the body.
        res.once('drain', () => undefined);
        setTimeout(() => {
          entry.dropped = true;
          req.socket.destroy();
        }, 200);
      } else if (!flushed) {
        stream.pause();
        res.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => res.end());
    stream.on('error', () => req.socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/media/import-source.mp4`,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// A video through the API, and what a viewer gets.

export interface VideoWatch {
  video: any;
  /** every (status, progress) the polls saw change, with ms since the watch began */
  seen: { atMs: number; status: string; progress: number | null }[];
  /** when the terminal status was first seen (epoch ms) */
  at: number;
}

export async function getVideo(stack: Stack, videoId: string): Promise<any> {
  const response = await stack.api('GET', `/videos/${videoId}`);
  if (response.status !== 200) throw new Error(`reading video ${videoId} failed: ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.data;
}

/**
 * Polls GET /v1/videos/{id} until it is `until` (every `everyMs`); throws at the other terminal status (with its
 * error) or at the deadline (with what was seen). Each change of status or progress is kept.
 */
export async function watchVideo(stack: Stack, videoId: string, until: 'ready' | 'failed', timeoutMs: number, everyMs = 250): Promise<VideoWatch> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const seen: VideoWatch['seen'] = [];
  let video: any = null;
  while (Date.now() < deadline) {
    video = await getVideo(stack, videoId);
    const last = seen.at(-1);
    if (!last || last.status !== video.status || last.progress !== video.progress) seen.push({ atMs: Date.now() - started, status: video.status, progress: video.progress ?? null });
    if (video.status === until) return { video, seen, at: Date.now() };
    const other = until === 'ready' ? 'failed' : 'ready';
    if (video.status === other) throw new Error(`video ${videoId} is ${other}${video.error ? `: ${video.error}` : ''} (seen ${describeSeen(seen)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for video ${videoId} to be ${until}; last ${JSON.stringify(video)?.slice(0, 600)} (seen ${describeSeen(seen)})`);
}

export const describeSeen = (seen: VideoWatch['seen']): string => seen.map((s) => `${s.status}${s.progress === null ? '' : `:${s.progress}`}@${s.atMs}`).join(' ');

export interface Variant {
  uri: string;
  url: string;
  bandwidth: number;
  resolution: { width: number; height: number } | null;
  codecs: string | null;
}

/** The variants of an HLS master playlist (`#EXT-X-STREAM-INF` + URI), URLs resolved against the master's. */
export function parseMaster(text: string, masterUrl: string): Variant[] {
  const lines = text.split('\n').map((l) => l.trim());
  const variants: Variant[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) return;
    const attributes = line.slice('#EXT-X-STREAM-INF:'.length);
    const uri = lines.slice(i + 1).find((l) => l !== '' && !l.startsWith('#'));
    if (!uri) return;
    const resolution = /RESOLUTION=(\d+)x(\d+)/.exec(attributes);
    const codecs = /CODECS="([^"]*)"/.exec(attributes);
    variants.push({
      uri,
      url: new URL(uri, masterUrl).toString(),
      bandwidth: Number(/(?:^|,)BANDWIDTH=(\d+)/.exec(attributes)?.[1] ?? NaN),
      resolution: resolution ? { width: Number(resolution[1]), height: Number(resolution[2]) } : null,
      codecs: codecs?.[1] ?? null,
    });
  });
  return variants;
}

export interface PlayedRendition extends Variant {
  /** what ffprobe read from the rendition's playlist and segments through the edge */
  probed: { width: number; height: number; duration: number; videoCodec: string; audioCodec: string | null };
}

/** Fetches a master playlist through the edge and plays each rendition with ffprobe (its picture size and length). */
export async function playLadder(stack: Stack, masterUrl: string): Promise<PlayedRendition[]> {
  const response = await stack.edgeFetch(masterUrl);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`the master playlist answered ${response.status}: ${text.slice(0, 300)}`);
  const variants = parseMaster(text, masterUrl);
  if (variants.length === 0) throw new Error(`no variant in the master playlist:\n${text}`);
  const played: PlayedRendition[] = [];
  for (const variant of variants) {
    const probe = await ffprobe(variant.url);
    const video = (probe.streams as any[]).find((s) => s.codec_type === 'video');
    const audio = (probe.streams as any[]).find((s) => s.codec_type === 'audio');
    if (!video) throw new Error(`no video stream in ${variant.uri}`);
    played.push({
      ...variant,
      probed: { width: video.width, height: video.height, duration: Number(probe.format.duration), videoCodec: video.codec_name, audioCodec: audio?.codec_name ?? null },
    });
  }
  return played;
}

/** A ranged GET (`Range: bytes=start-end`, inclusive) through the edge: status, Content-Range and the bytes. */
export async function rangedGet(stack: Stack, url: string, start: number, end: number): Promise<{ status: number; contentRange: string | null; bytes: Buffer }> {
  const response = await stack.edgeFetch(url, { headers: { range: `bytes=${start}-${end}` } });
  return { status: response.status, contentRange: response.headers.get('content-range'), bytes: Buffer.from(await response.arrayBuffer()) };
}

/** The top-level ISO-BMFF boxes of an MP4 in file order (a fast-start file has moov before mdat). */
export function topLevelBoxes(bytes: Uint8Array): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: string[] = [];
  let offset = 0;
  while (offset + 8 <= bytes.length && boxes.length < 64) {
    let size = view.getUint32(offset);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    if (size === 1 && offset + 16 <= bytes.length) size = Number(view.getBigUint64(offset + 8));
    else if (size === 0) size = bytes.length - offset;
    if (size < 8) break;
    boxes.push(type);
    offset += size;
  }
  return boxes;
}
