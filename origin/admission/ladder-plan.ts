// The ladder a publisher actually runs, decided once its encoder has said what it sends: the full ladder when its
// cost fits beside the other streams' in the capacity ledger, else the source alone (a session issue says so).
// A resumed session keeps the ladder its playlists started with (live-transcode.ts reads ladder.json): that ladder's
// cost is what it holds, fitting or not, so the playlists players follow keep their renditions.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { sourceOnlyLadder, type Rendition, type SourceInfo } from '../pipeline/ladder.ts';
import { ladderCost, roundUnits } from './cost.ts';
import { OVER_CAPACITY_ISSUE, type CapacityLedger, type LedgerTicket } from './ledger.ts';
import type { OriginMetrics } from '../metrics.ts';
import { log } from '../log.ts';

/** The ladder file live-transcode.ts writes in the session's folder. */
const LADDER_FILE = 'ladder.json';

export interface LadderPlan {
  renditions: Rendition[];
  /** a session issue to report with the stats (over capacity) */
  issue?: string;
}

export type PlanLadder = (source: SourceInfo, full: Rendition[], outDir: string) => LadderPlan;

/** The ladder a resumed session started with, when its folder holds one. */
export function keptLadder(outDir: string): Rendition[] | null {
  try {
    const stored = JSON.parse(readFileSync(path.join(outDir, LADDER_FILE), 'utf8')) as { renditions?: unknown };
    return Array.isArray(stored.renditions) && stored.renditions.length > 0 ? (stored.renditions as Rendition[]) : null;
  } catch {
    return null;
  }
}

export function ladderPlanner(
  ledger: CapacityLedger,
  ticket: LedgerTicket,
  context: { streamId: string; sessionId: string; resume: boolean; metrics: Pick<OriginMetrics, 'sourceOnlyPublishes'> },
): PlanLadder {
  return (source, full, outDir) => {
    const fullUnits = ladderCost(full);
    const kept = context.resume ? keptLadder(outDir) : null;
    if (kept) {
      ledger.decideLadder(ticket, fullUnits, ladderCost(kept));
      // A session that started source-only stays so (a one-copy ladder where the source would have more).
      const wasSourceOnly = kept.length === 1 && kept[0]!.copy && full.length > 1;
      return wasSourceOnly ? { renditions: kept, issue: `${OVER_CAPACITY_ISSUE}: this session started beyond the origin's capacity and keeps the encoder's rendition only` } : { renditions: kept };
    }
    const verdict = ledger.decideLadder(ticket, fullUnits);
    if (verdict.ladder === 'full') return { renditions: full };
    context.metrics.sourceOnlyPublishes.inc();
    log('publish_source_only', {
      streamId: context.streamId,
      sessionId: context.sessionId,
      ladderUnits: roundUnits(fullUnits),
      loadUnits: roundUnits(ledger.loadUnits),
      capacityUnits: roundUnits(ledger.capacityUnits),
    });
    return { renditions: sourceOnlyLadder(source), issue: verdict.issue };
  };
}
