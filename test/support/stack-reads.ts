// Reads of a running stack that several end-to-end tests make: a stream's recording through the API, and the origin's
// structured log lines of one event (what the origin says it did, e.g. bytes fetched from R2).
import type { Stack } from './stack.ts';

/** The stream's newest recording through the public API, or null before it has one. */
export async function recordingOf(stack: Stack, streamId: string): Promise<any> {
  return ((await stack.api('GET', `/live/streams/${streamId}/recordings`)).body.data as any[])[0] ?? null;
}

/** The origin's structured log lines of one event; lines that are not JSON are passed over. */
export const originLogEvents = (stack: Stack, event: string): Record<string, unknown>[] =>
  stack.originLogs.flatMap((line) => {
    try {
      const j = JSON.parse(line) as { event?: string };
      return j.event === event ? [j as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
