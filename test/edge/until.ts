// Polling for what settles in the background inside workerd (an alarm, a Queue consumer, a DO write): bounded, 5 s.

/** Probes every 100 ms until `ok` holds, 50 times at most, then fails naming `what`. */
export async function until<T>(probe: () => Promise<T>, ok: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 50; i++) {
    const value = await probe();
    if (ok(value)) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
