// How many attempts one endpoint may have in flight at once, across every consumer invocation of every lane: a
// batch leases one of the endpoint's slots in D1 for the endpoint's messages in it, and gives it back when done.
// A slow or hanging receiver therefore holds at most this many invocations, and is never sent a pile of parallel
// requests; a crashed invocation's lease simply runs out.

export const ENDPOINT_CONCURRENCY = 2;

export interface SlotLease {
  endpointId: string;
  slot: number;
  leaseId: string;
}

/** Takes a free (or expired) slot of the endpoint until `leaseMs` from now, or returns null when all are busy. */
export async function leaseEndpointSlot(db: D1Database, endpointId: string, leaseMs: number, now = Date.now()): Promise<SlotLease | null> {
  const leaseId = crypto.randomUUID();
  const until = new Date(now + leaseMs).toISOString();
  const at = new Date(now).toISOString();
  // Slots in random order, so concurrent callers rarely race for the same row.
  const slots = Array.from({ length: ENDPOINT_CONCURRENCY }, (_, i) => i).sort(() => Math.random() - 0.5);
  for (const slot of slots) {
    const taken = await db
      .prepare(
        `INSERT INTO webhook_endpoint_slots (endpoint_id, slot, lease_id, lease_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (endpoint_id, slot) DO UPDATE SET lease_id = ?3, lease_until = ?4 WHERE lease_until <= ?5
         RETURNING lease_id`,
      )
      .bind(endpointId, slot, leaseId, until, at)
      .first<{ lease_id: string }>();
    if (taken?.lease_id === leaseId) return { endpointId, slot, leaseId };
  }
  return null;
}

export async function releaseEndpointSlot(db: D1Database, lease: SlotLease): Promise<void> {
  await db
    .prepare('DELETE FROM webhook_endpoint_slots WHERE endpoint_id = ? AND slot = ? AND lease_id = ?')
    .bind(lease.endpointId, lease.slot, lease.leaseId)
    .run();
}
