// A Durable Object has one alarm; StreamObject and VideoObject each keep several deadlines (lifecycle, owed-effect
// retries, jobs, uploads). The alarm is armed at the earliest of them, and the row notes when, so a reader of the
// object's storage (tests, the admin views) sees the same instant the runtime will wake it.

/** Arms `ctx`'s alarm at the earliest present deadline (clears it when there is none) and notes it in `table`.alarm_at. */
export function armEarliestAlarm(ctx: DurableObjectState, sql: SqlStorage, table: 'stream' | 'video', deadlines: (number | null)[]): void {
  const present = deadlines.filter((d): d is number => d !== null);
  const at = present.length ? Math.min(...present) : null;
  sql.exec(`UPDATE ${table} SET alarm_at = ? WHERE id = 1`, at);
  if (at === null) void ctx.storage.deleteAlarm();
  else void ctx.storage.setAlarm(at);
}
