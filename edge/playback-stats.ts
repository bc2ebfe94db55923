// What the playback hot path costs the edge's shared state, counted per isolate: every D1 query and every Durable
// Object call the playback module makes, against the viewer requests it answered. The playback load test reads it
// (GET /admin/playback-stats) to report object and D1 calls per 1,000 viewer requests.

export type BackendKind = 'd1' | 'object';

interface Tally {
  since: number;
  viewerRequests: number;
  d1Calls: number;
  objectCalls: number;
}

const tally: Tally = { since: Date.now(), viewerRequests: 0, d1Calls: 0, objectCalls: 0 };

/** Bumped right before the call is made, so a call that fails or hangs still counts. */
export function countBackendCall(kind: BackendKind): void {
  if (kind === 'd1') tally.d1Calls += 1;
  else tally.objectCalls += 1;
}

export function countViewerRequest(): void {
  tally.viewerRequests += 1;
}

export function playbackStats(): Tally {
  return { ...tally };
}

/**
 * A D1 binding whose every prepared statement is counted: handed to code outside the playback module that may query
 * D1 on its behalf (the origin registry, for the secret a signed origin fetch needs; cached there per isolate).
 */
export function countedD1(db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, property) {
      if (property === 'prepare') {
        return (query: string) => {
          countBackendCall('d1');
          return target.prepare(query);
        };
      }
      const value: unknown = Reflect.get(target, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
