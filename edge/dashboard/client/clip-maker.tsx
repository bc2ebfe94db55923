// The clip maker: mark in and out on the live preview, name it, create it; the stream page's clip list shows it
// becoming ready. Positions are "seconds on the session timeline", what POST /clips takes.
/** @jsxImportSource hono/jsx/dom */
import { useState } from 'hono/jsx/dom';
import { ApiProblem, asProblem, call, type RiverheadClient } from './api.ts';
import type { AttachedPlayer } from './player.tsx';
import { sessionPosition } from './session-position.ts';
import { ProblemBanner, seconds } from './ui.tsx';

function positionOf(player: AttachedPlayer, sessionStartedAt: string): number {
  const hls = player.hls;
  const first = hls?.levels[hls.currentLevel >= 0 ? hls.currentLevel : 0]?.details?.fragments[0];
  return sessionPosition({
    currentTime: player.video.currentTime,
    playingDateMs: hls?.playingDate ? hls.playingDate.getTime() : null,
    firstFragment: first ? { sn: typeof first.sn === 'number' ? first.sn : -1, programDateTimeMs: first.programDateTime ?? null } : null,
    sessionStartedAtMs: Date.parse(sessionStartedAt),
  });
}

export function ClipMaker({
  client,
  streamId,
  sessionId,
  sessionStartedAt,
  player,
  onCreated,
}: {
  client: RiverheadClient;
  streamId: string;
  sessionId: string;
  sessionStartedAt: string;
  player: AttachedPlayer | null;
  onCreated: () => void;
}) {
  const [start, setStart] = useState<number | null>(null);
  const [end, setEnd] = useState<number | null>(null);
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  const mark = (set: (value: number) => void) => () => {
    if (!player) return setProblem(new ApiProblem('No player', 'start the preview first', null));
    setProblem(null);
    set(Math.round(positionOf(player, sessionStartedAt) * 10) / 10);
  };
  const create = async () => {
    if (start === null || end === null) return setProblem(new ApiProblem('Mark in and out first', undefined, null));
    setBusy(true);
    setProblem(null);
    try {
      await call(
        client.POST('/v1/live/streams/{streamId}/clips', {
          params: { path: { streamId } },
          body: { startTime: start, endTime: end, sessionId, accurate: false, ...(name.trim() ? { name: name.trim() } : {}) },
        }),
      );
      setStart(null);
      setEnd(null);
      setName('');
      onCreated();
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="clip-maker">
      <div class="row">
        <button type="button" name="mark-in" onClick={mark(setStart)}>
          Mark in
        </button>
        <span class="mark" data-mark="in">{seconds(start)}</span>
        <button type="button" name="mark-out" onClick={mark(setEnd)}>
          Mark out
        </button>
        <span class="mark" data-mark="out">{seconds(end)}</span>
        <input name="clip-name" placeholder="Clip name" value={name} maxLength={200} onInput={(e: Event) => setName((e.target as HTMLInputElement).value)} />
        <button type="button" class="primary" name="create-clip" disabled={busy} onClick={create}>
          Create clip
        </button>
      </div>
      <ProblemBanner problem={problem} />
    </div>
  );
}
