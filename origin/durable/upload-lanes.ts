// The origin's upload slots towards R2: every session's shipper takes one per request, so a burst after an outage (or
// many sessions) never opens more than a bounded number of requests to the edge at once.

export class UploadLanes {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly max = 8,
    /** requests waiting for a slot before new ones are refused (each holds only a file name) */
    readonly maxWaiting = 10_000,
  ) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) {
      if (this.waiting.length >= this.maxWaiting) throw new Error(`more than ${this.maxWaiting} uploads are waiting for a slot`);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next(); // the slot passes on as it is
      else this.running--;
    }
  }
}
