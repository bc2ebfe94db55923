// Structured logs: one JSON line per event. Callers pass ids and outcomes, never keys, secrets or tokens.
export function log(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
}
