// An in-thread stand-in for a worker_threads MessageChannel: the two ends a live transcode's relay and its
// PooledTranscode talk through when the transcode runs on the origin's main thread (TranscodePool isolation 'inline').
// Same delivery rules as a MessagePort, so neither side can tell: messages arrive asynchronously (a macrotask later),
// in order, each end's 'close' after every message posted before the close; posting to a closed channel drops silently.
// Nothing is cloned or copied: a transfer list only says the sender gives the buffer up, which it already does.
import { EventEmitter } from 'node:events';

type Delivery = { to: InlinePort; message: unknown } | { close: true };

/** One end of an InlineChannel; the subset of MessagePort the transcode pool and worker use. */
export class InlinePort extends EventEmitter {
  /** @internal */
  constructor(private readonly channel: InlineChannel) {
    super();
  }

  postMessage(message: unknown, _transfer?: readonly unknown[]): void {
    this.channel.send(this, message);
  }

  close(): void {
    this.channel.close();
  }

  /** MessagePort API parity: an inline port never keeps the event loop alive by itself. */
  ref(): void {}
  unref(): void {}
  start(): void {}
}

export class InlineChannel {
  readonly port1: InlinePort = new InlinePort(this);
  readonly port2: InlinePort = new InlinePort(this);
  private queue: Delivery[] = [];
  private scheduled = false;
  private closing = false;
  private closed = false;
  /** a listener of `port` threw (where a thread's listener would have died of it) */
  private onListenerError: (error: unknown, port: InlinePort) => void;

  constructor(onListenerError: (error: unknown, port: InlinePort) => void) {
    this.onListenerError = onListenerError;
  }

  /** @internal */
  send(from: InlinePort, message: unknown): void {
    if (this.closing) return;
    this.queue.push({ to: from === this.port1 ? this.port2 : this.port1, message });
    this.schedule();
  }

  /** @internal */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.queue.push({ close: true });
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    // Only what is queued now: messages posted by the listeners go out on the next turn, as between threads.
    const batch = this.queue;
    this.queue = [];
    for (const d of batch) {
      if (this.closed) return;
      const to = 'close' in d ? this.port2 : d.to;
      try {
        if ('close' in d) {
          this.closed = true;
          this.port1.emit('close');
          this.port2.emit('close');
        } else {
          d.to.emit('message', d.message);
        }
      } catch (error) {
        this.onListenerError(error, to);
      }
    }
  }
}
