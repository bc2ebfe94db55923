// Every fault of the suite, in the order they run, and the CI-sized subset `npm test` runs.
import type { Fault } from './fault.ts';
import { encoderDrops } from './scenarios/encoder-drops.ts';
import { originFreezes, originKills } from './scenarios/origin-process.ts';
import { ffmpegKillQuick, ffmpegKills } from './scenarios/ffmpeg-kill.ts';
import { edgeFreezeQuick, edgeFreezes, edgeUnreachable } from './scenarios/edge-freeze.ts';
import { clockSkews } from './scenarios/clock-skew.ts';
import { webhook500ThenOk, webhookFaults } from './scenarios/webhook-receiver.ts';
import { diskFull } from './scenarios/disk-full.ts';
import { storageOutages } from './scenarios/storage-outage.ts';
import { rtmpAttacks, rtmpFloodShort, srtStorm } from './scenarios/ingest-attacks.ts';
import { mutatedInputs } from './scenarios/mutated-input.ts';

export const ALL_FAULTS: Fault[] = [
  encoderDrops(20),
  ...ffmpegKills,
  ...edgeFreezes,
  edgeUnreachable,
  ...originKills,
  ...originFreezes,
  ...clockSkews,
  webhook500ThenOk,
  ...webhookFaults,
  ...storageOutages,
  ...rtmpAttacks,
  srtStorm,
  ...mutatedInputs,
  diskFull,
];

/** A handful of fast ones for `npm test` (< 90 s): drops, a transcoder crash, a short edge freeze, a failing receiver, a short flood. */
export const CI_FAULTS: Fault[] = [encoderDrops(3, { ci: true }), ffmpegKillQuick, edgeFreezeQuick, webhook500ThenOk, rtmpFloodShort];
