// The origin's structured log: one JSON line per event (pino). Callers pass ids and outcomes, never keys or secrets.
import pino from 'pino';

export const logger = pino({
  base: { service: 'origin' },
  level: process.env.LOG_LEVEL ?? 'info',
  timestamp: pino.stdTimeFunctions.isoTime,
  // Belt and braces: whatever a caller passes under these names never reaches the log.
  redact: { paths: ['streamKey', '*.streamKey', 'passphrase', '*.passphrase', 'secret', 'srtPassphrase'], censor: '[redacted]' },
});

export type LogFields = Record<string, unknown>;
export const log = (event: string, fields: LogFields = {}): void => logger.info({ event, ...fields });
export const logWarn = (event: string, fields: LogFields = {}): void => logger.warn({ event, ...fields });
