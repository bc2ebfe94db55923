// What a fault of the suite is: a name, the moment it strikes, what stack it needs, and the run that injects it and
// says what the stream(s) must end as. The runner checks the invariants after each (invariants.ts).
import type { StackOptions } from '../../test/support/stack.ts';
import type { FaultContext } from './context.ts';

export type Moment = 'before publish' | 'mid-broadcast' | 'during finalization' | 'any';

/** A stream a fault touched and the status it must reach once the fault is over and its encoder stopped. */
export interface Expectation {
  streamId: string;
  /** acceptable final statuses (the first is the usual one) */
  final: string[];
  /** seconds to allow for reaching it after the run ends */
  withinSeconds: number;
  /** the playback id to check segments of (when it was watched) */
  playbackId?: string;
}

export interface FaultOutcome {
  expectations: Expectation[];
  /** measured figures worth publishing: recovery times, counts, memory */
  figures: Record<string, unknown>;
  /** violations the fault itself found (e.g. a live broadcast kicked, a publish not served) */
  violations: string[];
  /** segments the watcher saw lost are allowed up to this many (default 1) */
  maxLostSegments?: number;
  /** edge 5xx that are the injected fault itself, not a defect (paths) */
  expected5xx?: RegExp;
  /** a webhook endpoint the fault made fail: its deliveries are checked too, once it is healthy again */
  faultyEndpoint?: { webhookId: string; receiverName: string };
}

export interface Fault {
  name: string;
  moment: Moment;
  /** what the stack must be started with; faults with the same needs share one stack */
  stack?: Pick<StackOptions, 'faketime' | 'mediaTmpfsBytes' | 'originEnv'>;
  /** part of the CI-sized subset in `npm test` */
  ci?: boolean;
  /** why it cannot run here (a missing attack module); the runner reports it as skipped */
  skip?: () => Promise<string | null>;
  run(ctx: FaultContext): Promise<FaultOutcome>;
}

export interface FaultResult {
  name: string;
  moment: Moment;
  passed: boolean;
  skipped?: string;
  durationMs: number;
  figures: Record<string, unknown>;
  violations: string[];
}
