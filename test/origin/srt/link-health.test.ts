// SRT link statistics → session issues: thresholds on loss, late drops, retransmissions and RTT against latency.
import { describe, expect, it } from 'vitest';
import { linkIssues, type SrtLinkSample } from '../../../origin/srt/link-health.ts';

const healthy: SrtLinkSample = {
  intervalMs: 2000,
  rttMs: 12,
  mbpsRecvRate: 1.1,
  latencyMs: 120,
  pktRecv: 400,
  pktRcvLoss: 0,
  pktRcvRetrans: 0,
  pktRcvDrop: 0,
  pktRecvTotal: 4000,
  pktRcvLossTotal: 0,
  pktRcvDropTotal: 0,
  byteRecvTotal: 5_000_000,
};

describe('linkIssues', () => {
  const cases: [string, Partial<SrtLinkSample>, string[]][] = [
    ['a clean link', {}, []],
    ['loss under 1%', { pktRecv: 1000, pktRcvLoss: 5, pktRcvRetrans: 5 }, []],
    ['loss of 3.2%', { pktRecv: 968, pktRcvLoss: 32, pktRcvRetrans: 32 }, ['SRT packet loss 3.2%']],
    ['many retransmissions', { pktRecv: 1000, pktRcvLoss: 5, pktRcvRetrans: 80 }, ['SRT retransmissions 8.0%']],
    ['too few packets to judge loss', { pktRecv: 20, pktRcvLoss: 10 }, []],
    ['late drops', { pktRcvDrop: 7 }, ['SRT dropped 7 packets that arrived too late to play; raise the latency (now 120 ms)']],
    ['RTT above a quarter of the latency', { rttMs: 45 }, ['SRT RTT 45 ms (latency 120 ms should be at least 4× RTT)']],
    ['RTT of 450 ms even with a long latency', { rttMs: 450, latencyMs: 4000 }, ['SRT RTT 450 ms']],
    ['RTT well within a long latency', { rttMs: 300, latencyMs: 2000 }, []],
  ];
  for (const [name, change, issues] of cases) {
    it(name, () => expect(linkIssues({ ...healthy, ...change })).toEqual(issues));
  }

  it('reports several problems at once', () => {
    const issues = linkIssues({ ...healthy, pktRecv: 900, pktRcvLoss: 100, pktRcvRetrans: 90, pktRcvDrop: 3, rttMs: 450 });
    expect(issues).toHaveLength(4);
    expect(issues.every((i) => i.length <= 300)).toBe(true);
  });
});
