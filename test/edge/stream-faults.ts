// Fault injection for StreamObject tests: the object's own bindings are wrapped so a Queue or D1 call fails when told
// to (the real binding serves every other call), plus readers for its alarm, outbox, owed effects and received webhooks.
import { env } from 'cloudflare:workers';
import { runInDurableObject } from 'cloudflare:test';
import type { Recording } from '../../shared/schemas/recording.ts';

export const stub = (streamId: string) => env.STREAMS.get(env.STREAMS.idFromName(streamId));

/** A switch the test flips; `failNext` counts down, `failAll` holds until turned off. */
export interface Fault {
  failNext: number;
  failAll: boolean;
}

const trips = (fault: Fault): boolean => {
  if (fault.failAll) return true;
  if (fault.failNext > 0) {
    fault.failNext -= 1;
    return true;
  }
  return false;
};

type Bindings = Record<string, unknown>;

async function patchEnv(streamId: string, patch: (current: Bindings) => Bindings): Promise<void> {
  await runInDurableObject(stub(streamId), (instance) => {
    const object = instance as unknown as { env: Bindings };
    object.env = { ...object.env, ...patch(object.env) };
  });
}

/** The object's webhook Queue refuses sendBatch while the fault says so. */
export async function faultyQueue(streamId: string): Promise<Fault> {
  const fault: Fault = { failNext: 0, failAll: false };
  await patchEnv(streamId, (current) => {
    const queue = current.WEBHOOKS as Queue;
    return {
      WEBHOOKS: {
        send: (body: unknown, options?: QueueSendOptions) => queue.send(body, options),
        sendBatch: async (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
          if (trips(fault)) throw new Error('injected: the Queue is unavailable');
          return queue.sendBatch(messages, options);
        },
      },
    };
  });
  return fault;
}

/** The object's D1 refuses prepare/batch while the fault says so. */
export async function faultyD1(streamId: string): Promise<Fault> {
  const fault: Fault = { failNext: 0, failAll: false };
  await patchEnv(streamId, (current) => {
    const db = current.DB as D1Database;
    return {
      DB: new Proxy(db, {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (typeof value !== 'function') return value;
          if (property === 'prepare' || property === 'batch') {
            return (...args: unknown[]) => {
              if (trips(fault)) throw new Error('injected: D1 is unavailable');
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          }
          return (value as (...a: unknown[]) => unknown).bind(target);
        },
      }),
    };
  });
  return fault;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The object's D1 answers only after `ms` (production D1 is a remote database): awaiting it lets other requests into
 * the object, as in production, where local D1 answers too fast to show it.
 */
export async function slowD1(streamId: string, ms: number): Promise<void> {
  await patchEnv(streamId, (current) => {
    const db = current.DB as D1Database;
    const originals = new WeakMap<object, D1PreparedStatement>();
    const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
      const proxy = new Proxy(statement, {
        get(target, property) {
          const value = Reflect.get(target, property) as unknown;
          if (typeof value !== 'function') return value;
          if (property === 'bind') return (...args: unknown[]) => wrap(target.bind(...args));
          return async (...args: unknown[]) => {
            await sleep(ms);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      originals.set(proxy, statement);
      return proxy;
    };
    return {
      DB: {
        prepare: (query: string) => wrap(db.prepare(query)),
        batch: async (statements: D1PreparedStatement[]) => {
          await sleep(ms);
          return db.batch(statements.map((s) => originals.get(s) ?? s));
        },
        exec: (query: string) => db.exec(query),
      },
    };
  });
}

export async function setObjectVar(streamId: string, name: string, value: string): Promise<void> {
  await patchEnv(streamId, () => ({ [name]: value }));
}

export const alarmOf = (streamId: string) =>
  runInDurableObject(stub(streamId), (_o, state) => state.storage.getAlarm());

/** The running export job's silence deadline (epoch ms) of the stream's one recording. */
export const exportDeadlineOf = (streamId: string) =>
  runInDurableObject(stub(streamId), (_o, state) =>
    state.storage.sql.exec<{ at: number | null }>('SELECT export_deadline AS at FROM recordings').one().at,
  );

export const outboxDepth = (streamId: string) =>
  runInDurableObject(stub(streamId), (_o, state) =>
    state.storage.sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM webhook_outbox').one().n,
  );

export const owedEffects = (streamId: string) =>
  runInDurableObject(stub(streamId), (_o, state) =>
    state.storage.sql.exec<{ key: string }>('SELECT key FROM pending_effects ORDER BY key').toArray().map((r) => r.key),
  );

/** The webhook events the Queue consumer recorded for a stream, waiting up to ~5 s for `count` of them. */
/** A recording as the object reports it (RPC loses the type of this method's answer). */
export const recordingOf = async (streamId: string, workspaceId: string, recordingId: string) =>
  (await stub(streamId).recording(workspaceId, recordingId)) as unknown as Recording | null;

export interface ReceivedWebhook {
  id: string;
  event: string;
  sequence: number;
  sessionId: string | null;
  reason: string | null;
  data: any;
}

export async function receivedWebhooks(streamId: string, count: number): Promise<ReceivedWebhook[]> {
  let rows: { body: string }[] = [];
  for (let i = 0; i < 50 && rows.length < count; i++) {
    await new Promise((r) => setTimeout(r, 100));
    rows = (
      await env.DB.prepare('SELECT body FROM webhook_events WHERE stream_id = ? ORDER BY sequence')
        .bind(streamId)
        .all<{ body: string }>()
    ).results;
  }
  return rows.map((r) => JSON.parse(r.body));
}
