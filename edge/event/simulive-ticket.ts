// The one-time ticket that admits a stream's simulive publisher (issue 12): the stream's object issues it with the
// command it sends an origin, keeps only its hash with an expiry, and authorize consumes it. One ticket at a time: a new
// one (a retried dispatch) replaces the last, so at most one origin can start the broadcast with it.
import { randomBase62, sha256Hex } from '../../shared/identifiers.ts';

/** Long enough for the origin to download a source of the allowed size and authorize; short enough to be worthless after. */
export const SIMULIVE_TICKET_TTL_MS = 5 * 60_000;

const TABLE = 'CREATE TABLE IF NOT EXISTS simulive_ticket (id INTEGER PRIMARY KEY CHECK (id = 1), hash TEXT NOT NULL, expires_at INTEGER NOT NULL)';

/** A fresh ticket (returned once, never stored as such), replacing any earlier one. */
export async function issueSimuliveTicket(sql: SqlStorage, now: number): Promise<string> {
  const ticket = `slt_${randomBase62(40)}`;
  const hash = await sha256Hex(ticket);
  sql.exec(TABLE);
  sql.exec('INSERT OR REPLACE INTO simulive_ticket (id, hash, expires_at) VALUES (1, ?, ?)', hash, now + SIMULIVE_TICKET_TTL_MS);
  return ticket;
}

/** Whether `ticket` is the live, unexpired one; a matching ticket is used up by this call (expired ones go too). */
export async function consumeSimuliveTicket(sql: SqlStorage, ticket: string, now: number): Promise<boolean> {
  const hash = await sha256Hex(ticket);
  // No await from here on: the read and the delete are one step for the object, so a ticket admits exactly once.
  sql.exec(TABLE);
  const row = sql.exec<{ hash: string; expires_at: number }>('SELECT hash, expires_at FROM simulive_ticket WHERE id = 1').toArray()[0];
  if (!row || row.hash !== hash) return false;
  sql.exec('DELETE FROM simulive_ticket WHERE id = 1');
  return row.expires_at > now;
}
