// Glass-to-glass latency through the real stack: how long after the encoder emits a frame the segment holding
// it is listed at the edge, in every rendition (the slowest one counts: a player may be on any of them).
//
// Method. The encoder's clock comes from ffmpeg itself: with `-progress` it reports out_time (the stream time it
// has written) ten times a second, and the least (wall clock − out_time) over the run is when stream time 0 left
// it (support/ffmpeg.ts explains why the least is the right one). Segments are cut on that same timeline:
// the media playlists are EVENT playlists starting at the first frame, so a segment starts at the sum of the
// EXTINF before it. The frame at stream time t is therefore emitted at offset + t, and the segment holding it
// is listed when our 100 ms poll of the edge first sees it. We report the segment's first frame — the frame
// of that segment that waited longest — so one segment's worth of accumulation is part of the figure, as it is
// for a viewer. No OCR, no fonts: the clock travels as the stream's own timestamps.
import { DEFAULT_SEGMENT_SECONDS } from '../../origin/pipeline/ladder.ts';
import { median, percentile, round, type Figure } from './figure.ts';
import { publishLive } from './support/ffmpeg.ts';
import { PlaylistWatcher, fetchText, variantUris } from './support/hls.ts';
import { sleep, until } from './support/processes.ts';
import { benchStack } from './support/stack.ts';

export const glassToGlass: Figure = {
  name: 'glass-to-glass',
  budgetMs: (quick) => (quick ? 90_000 : 150_000),
  async run(ctx) {
    const seconds = ctx.quick ? 20 : 60;
    const stack = await benchStack({ capacity: 2 });
    try {
      const stream = await stack.createStream();
      const base = `${stack.edgeUrl}/hls/${stream.playbackIds[0].id}`;
      const publisher = publishLive(stream.ingest.rtmp.url, { size: '1280x720', rate: 30, seconds: seconds + 30 });
      try {
        const variants = await until(
          'a master playlist at the edge',
          async () => {
            const master = await fetchText(`${base}/master.m3u8`);
            const uris = master ? variantUris(master) : [];
            return uris.length > 0 ? uris : undefined;
          },
          30_000,
          50,
        );
        const watchers = variants.map((v) => new PlaylistWatcher(() => fetchText(`${base}/${v}`)));
        const stopAt = Date.now() + seconds * 1000;
        while (Date.now() < stopAt) {
          const tick = Date.now();
          await Promise.all(watchers.map((w) => w.poll()));
          await sleep(Math.max(0, 100 - (Date.now() - tick)));
        }
        const offset = publisher.clockOffset();
        if (offset === undefined) throw new Error('the encoder reported no clock');

        // Segments every rendition listed, skipping those already there at the first poll (we did not see them appear).
        const firstPollSeen = Math.max(...watchers.map((w) => w.sightings.filter((s) => s.seenAt === w.sightings[0]?.seenAt).length));
        const common = Math.min(...watchers.map((w) => w.sightings.length));
        const perSegment: { index: number; firstFrame: number; lastFrame: number }[] = [];
        for (let i = firstPollSeen; i < common; i++) {
          const listed = Math.max(...watchers.map((w) => w.sightings[i]!.seenAt));
          const start = median(watchers.map((w) => w.sightings[i]!.start));
          const end = median(watchers.map((w) => w.sightings[i]!.end));
          perSegment.push({ index: i, firstFrame: round((listed - (offset + start * 1000)) / 1000), lastFrame: round((listed - (offset + end * 1000)) / 1000) });
        }
        if (perSegment.length === 0) throw new Error('no segment was seen appearing at the edge');
        const firstFrame = perSegment.map((s) => s.firstFrame);
        const seg = DEFAULT_SEGMENT_SECONDS;
        const value = median(firstFrame);
        ctx.log(`median ${value.toFixed(2)} s over ${perSegment.length} segments, max ${Math.max(...firstFrame).toFixed(2)} s`);
        return [
          {
            figure: 'glass-to-glass',
            label: `glass-to-glass, encoder → listed at the edge (720p30, ${variants.length} renditions)`,
            ours: { value: round(value, 2), unit: 's' },
            baseline: null,
            target: { of: 'value', kind: 'max', limit: 2 * seg + 1, text: `≤ 2 segments + 1 s (${2 * seg + 1} s)` },
            note: `median over ${perSegment.length} segments of the wait of each segment's first frame until every rendition lists it; p95 ${percentile(firstFrame, 95).toFixed(2)} s, max ${Math.max(...firstFrame).toFixed(2)} s; a segment's last frame waits ${median(perSegment.map((s) => s.lastFrame)).toFixed(2)} s`,
            details: { segmentSeconds: seg, perSegment, variants },
          },
        ];
      } finally {
        await publisher.child.stop('SIGKILL');
      }
    } finally {
      await stack.stop();
    }
  },
};
