// The full desired set of a session's targets against the relays running: which start, stop or restart. Pure.
// A target is identified by its destinationId; a new revision (url, key or rendition changed at the edge) restarts
// only that target.

/** A destination as the origin relays it (the edge's SimulcastTarget): url is the full publish URL, key included. */
export interface RelayTarget {
  destinationId: string;
  url: string;
  rendition: string;
  revision: number;
}

export interface TargetDiff {
  start: RelayTarget[];
  restart: RelayTarget[];
  stop: string[];
  unchanged: string[];
}

export function diffTargets(running: ReadonlyMap<string, RelayTarget>, desired: readonly RelayTarget[]): TargetDiff {
  const diff: TargetDiff = { start: [], restart: [], stop: [], unchanged: [] };
  const wanted = new Map<string, RelayTarget>();
  // The last entry of a duplicated id wins, as a later PATCH would.
  for (const target of desired) wanted.set(target.destinationId, target);
  for (const [id, target] of wanted) {
    const current = running.get(id);
    if (!current) diff.start.push(target);
    else if (current.revision !== target.revision || current.url !== target.url || current.rendition !== target.rendition) diff.restart.push(target);
    else diff.unchanged.push(id);
  }
  for (const id of running.keys()) if (!wanted.has(id)) diff.stop.push(id);
  return diff;
}
