// SRT link statistics of one caller → the session's `issues`. Pure: one interval's counters in, sentences out;
// no sentence means the link is healthy.

/** One sampling interval of libsrt's receiver statistics (srt_bstats with clear: counters are per interval). */
export interface SrtLinkSample {
  /** length of the interval, ms */
  intervalMs: number;
  rttMs: number;
  mbpsRecvRate: number;
  /** negotiated receiver latency (TSBPD delay), ms */
  latencyMs: number;
  /** data packets received, retransmissions included */
  pktRecv: number;
  /** packets found missing (most come back through retransmission) */
  pktRcvLoss: number;
  /** retransmitted packets received */
  pktRcvRetrans: number;
  /** packets that never came in time to play: the only loss the viewer sees */
  pktRcvDrop: number;
  pktRecvTotal: number;
  pktRcvLossTotal: number;
  pktRcvDropTotal: number;
  byteRecvTotal: number;
}

export interface LinkThresholds {
  /** share of packets lost in an interval, percent */
  lossPercent: number;
  /** share of packets that were retransmissions, percent */
  retransPercent: number;
  /** RTT above this share of the latency leaves too little time to retransmit (SRT guidance: latency ≥ 4×RTT) */
  rttShareOfLatency: number;
  /** RTT that is an issue whatever the latency, ms */
  rttMs: number;
  /** fewer packets than this in an interval tell nothing about loss */
  minPackets: number;
}

export const DEFAULT_LINK_THRESHOLDS: LinkThresholds = {
  lossPercent: 1,
  retransPercent: 5,
  rttShareOfLatency: 0.25,
  rttMs: 400,
  minPackets: 50,
};

export function linkIssues(sample: SrtLinkSample, thresholds: LinkThresholds = DEFAULT_LINK_THRESHOLDS): string[] {
  const issues: string[] = [];
  const packets = sample.pktRecv + sample.pktRcvLoss;
  if (sample.pktRcvDrop > 0) {
    issues.push(`SRT dropped ${sample.pktRcvDrop} packets that arrived too late to play; raise the latency (now ${sample.latencyMs} ms)`);
  }
  if (packets >= thresholds.minPackets) {
    const loss = (100 * sample.pktRcvLoss) / packets;
    if (loss >= thresholds.lossPercent) issues.push(`SRT packet loss ${loss.toFixed(1)}%`);
    const retrans = sample.pktRecv > 0 ? (100 * sample.pktRcvRetrans) / sample.pktRecv : 0;
    if (retrans >= thresholds.retransPercent) issues.push(`SRT retransmissions ${retrans.toFixed(1)}%`);
  }
  const rttLimit = Math.min(thresholds.rttMs, sample.latencyMs > 0 ? sample.latencyMs * thresholds.rttShareOfLatency : Infinity);
  if (sample.rttMs > rttLimit) {
    issues.push(`SRT RTT ${Math.round(sample.rttMs)} ms${sample.latencyMs > 0 && sample.rttMs * 4 > sample.latencyMs ? ` (latency ${sample.latencyMs} ms should be at least 4× RTT)` : ''}`);
  }
  return issues;
}
