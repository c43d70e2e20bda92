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

export function createLogger(level = process.env.SLUICE_LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { svc: 'sluice-dataplane' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
