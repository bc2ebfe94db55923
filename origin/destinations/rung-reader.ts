// A ladder rung as FLV tags for the relays: a child ffmpeg reading the rung's live HLS playlist from the session's
// folder (`-c copy` to FLV on stdout). Why the playlist on disk rather than another output of the live transcode: the
// transcode stays exactly as it is (its restarts, resumes and backlog rules untouched), the rung's segments are already
// encoded, and a relay added or removed never restarts the ladder. The cost is a segment of extra latency, which a
// simulcast target does not notice. Each leg reads from the first segment written after the leg began, so a resumed
// session's earlier segments are not sent twice.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { mediaPlaylistPath } from '../pipeline/hls-command.ts';
import { parseMediaPlaylist } from '../pipeline/playlists.ts';
import { keptLadder } from '../admission/ladder-plan.ts';
import { backoffDelay } from '../backoff.ts';
import { FlvTagReader, type MediaTag } from './flv-tags.ts';
import { log, logWarn } from '../log.ts';

const POLL_MS = 500;

export interface RungReaderDeps {
  streamId: string;
  sessionId: string;
  outDir: string;
  rendition: string;
  onTag: (tag: MediaTag) => void;
  /** The rung is not in this broadcast's ladder: relays of it cannot start. */
  onMissing: (reason: string) => void;
  ffmpegPath?: string;
}

export class RungReader {
  private child: ChildProcessWithoutNullStreams | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private crashes = 0;
  private readonly playlist: string;

  constructor(private readonly deps: RungReaderDeps) {
    this.playlist = mediaPlaylistPath(deps.outDir, deps.rendition);
  }

  /** A leg begins: read from the first segment after those listed now, once it exists. */
  async startLeg(): Promise<void> {
    this.killChild();
    const from = await this.segmentCount();
    this.waitFor(from);
  }

  stop(): void {
    this.stopped = true;
    this.killChild();
  }

  private async segmentCount(): Promise<number> {
    const text = await readFile(this.playlist, 'utf8').catch(() => null);
    if (text === null) return 0;
    try {
      return parseMediaPlaylist(text).segments.length;
    } catch {
      return 0;
    }
  }

  private waitFor(from: number): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = setInterval(() => {
      void (async () => {
        if (this.stopped) return this.clearPoll();
        const ladder = keptLadder(this.deps.outDir);
        if (ladder && !ladder.some((r) => r.name === this.deps.rendition)) {
          this.clearPoll();
          this.deps.onMissing(`rendition ${this.deps.rendition} is not in this broadcast's ladder (${ladder.map((r) => r.name).join(', ')})`);
          return;
        }
        if ((await this.segmentCount()) > from && this.pollTimer) {
          this.clearPoll();
          this.launch(from);
        }
      })();
    }, POLL_MS);
  }

  private clearPoll(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  private launch(from: number): void {
    if (this.stopped) return;
    const args = [
      '-hide_banner', '-nostdin', '-loglevel', 'error',
      '-live_start_index', String(from), '-f', 'hls', '-i', this.playlist,
      '-map', '0', '-c', 'copy', '-flvflags', 'no_duration_filesize', '-f', 'flv', 'pipe:1',
    ];
    const child = spawn(this.deps.ffmpegPath ?? 'ffmpeg', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    const reader = new FlvTagReader();
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      for (const tag of reader.push(chunk)) this.deps.onTag(tag);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-1000)));
    child.on('error', (error) => (stderr += `ffmpeg could not run: ${error.message}`));
    log('destination_rung_reader_started', { streamId: this.deps.streamId, sessionId: this.deps.sessionId, rendition: this.deps.rendition, from });
    child.once('close', (code, signal) => {
      if (this.child === child) this.child = null;
      if (this.stopped || signal === 'SIGKILL') return;
      // The playlist is never closed while the session runs, so an exit is a failure: read on from the latest segment.
      logWarn('destination_rung_reader_exited', { streamId: this.deps.streamId, sessionId: this.deps.sessionId, rendition: this.deps.rendition, code, error: stderr.trim().split('\n').slice(-1)[0] ?? null });
      const delay = backoffDelay(this.crashes++, 500, 10_000);
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        void this.segmentCount().then((count) => this.launch(Math.max(0, count - 1)));
      }, delay);
    });
  }

  private killChild(): void {
    this.clearPoll();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}
