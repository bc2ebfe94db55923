// Reaching a stream's Durable Object, and turning its refusals into API errors.
import type { Env } from './env.ts';
import type { StreamCommandResult } from './stream-object.ts';
import { ApiError, notFound } from './problem.ts';
import type { LiveStream } from '../shared/schemas/live-stream.ts';
import { STREAM_LIVE_PROBLEM } from './low-latency/latency-mode-lock.ts';

export const streamObject = (env: Env, streamId: string) => env.STREAMS.get(env.STREAMS.idFromName(streamId));

const CONFLICT_TITLES: Record<string, string> = {
  not_live: 'Stream is not live',
  already_enabled: 'Stream already enabled',
  already_disabled: 'Stream already disabled',
};

/** The stream a command returned, or the error the API answers with. */
export function commandOutcome(result: StreamCommandResult, streamId: string): LiveStream {
  if (result.ok) return result.stream;
  if (result.code === 'not_found') throw notFound(`live stream ${streamId}`);
  if (result.code === 'locked') {
    throw new ApiError(409, STREAM_LIVE_PROBLEM, 'Stream is live', result.detail, {
      errors: [{ field: result.field, message: result.detail.slice(result.field.length + 2) }],
    });
  }
  throw new ApiError(409, result.refusal.replaceAll('_', '-'), CONFLICT_TITLES[result.refusal] ?? 'Conflict', result.detail);
}
