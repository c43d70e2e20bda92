// pino JSON logs. Credentials are redacted by path; prompt text is never logged unless server.logPrompts.
import { type Logger, pino } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["api-key"]',
  'req.headers["x-goog-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers["api-key"]',
  'credentials',
  '*.credentials',
];

/**
 * pino's isoTime (`,"time":"<ISO 8601>"`), formatted once per millisecond: under load many lines share
 * a millisecond, and Date#toISOString was ~2% of a request's CPU in the bench profile. Same text.
 */
let lastMs = -1;
let lastTime = '';
export function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

export function createLogger(level = process.env.SLUICE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { svc: 'sluice-dataplane' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: isoTime,
  });
}
