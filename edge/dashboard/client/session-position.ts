// Where a player is on a session's timeline (the seconds POST /clips takes), from what hls.js knows. Pure.

/**
 * Pure: where the player is on the session timeline. With program date-times, the wall-clock moment playing minus the
 * session's start (the first segment's date when the playlist still begins at it, else the session's startedAt);
 * without them, the media time (which starts at the session's first segment).
 */
export function sessionPosition(input: {
  currentTime: number;
  playingDateMs: number | null;
  firstFragment: { sn: number; programDateTimeMs: number | null } | null;
  sessionStartedAtMs: number;
}): number {
  if (input.playingDateMs === null) return Math.max(0, input.currentTime);
  const origin =
    input.firstFragment && input.firstFragment.sn === 0 && input.firstFragment.programDateTimeMs !== null
      ? input.firstFragment.programDateTimeMs
      : input.sessionStartedAtMs;
  return Math.max(0, (input.playingDateMs - origin) / 1000);
}
